(function(){
  var table=document.getElementById('schedule-grid'), store=document.getElementById('grid-data');
  var panel=document.getElementById('cell-explain');
  if(!table||!store||!panel) return;
  var data=JSON.parse(store.textContent), first=+table.dataset.first||1;
  var title=document.getElementById('explain-title'), body=document.getElementById('explain-body');
  var rows=table.tBodies[0].rows, current=null, picked=null;
  function dayCell(td){ return td&&td.tagName==='TD'&&td.cellIndex>=first&&td.parentNode.parentNode===table.tBodies[0]; }
  function focusCell(td){ if(current) current.tabIndex=-1; current=td; td.tabIndex=0; td.focus(); }
  function para(text,cls){ var p=document.createElement(cls==='code'?'code':'p'); p.textContent=text; body.appendChild(p); }
  function open(td){
    var person=td.parentNode.dataset.p, i=td.cellIndex-first, date=data.dates[i];
    var shifts=td.textContent&&!td.querySelector('.lv')?td.textContent.split(' '):[];
    var bits=[person,date], rot='';
    (data.runs[person]||[]).forEach(function(run){ if(run[0]<=i) rot=run[1]; });
    bits.push(shifts.length?shifts.join(' '):'no shift');
    if(rot) bits.push('rotation '+rot+(data.rotations[rot]?' ('+data.rotations[rot]+')':''));
    if(td.title) bits.push(td.title);
    title.textContent=bits.join(' · ');
    body.textContent='';
    var texts=(data.explain[person]||{})[date]||{}, found=false;
    (shifts.length?shifts:['']).forEach(function(s){ if(texts[s]){ para(texts[s]); found=true; } });
    if(!found&&shifts.length&&texts['']){ para(texts['']); found=true; }
    if(!found){
      para('No explanation was written for this cell. The command below explains it:');
      para('rotaflow explain --program PATH --block '+(data.blocks[i]||'BLOCK')+
           ' --person '+person+' --date '+date,'code');
    }
    if(picked) picked.classList.remove('picked');
    picked=td; td.classList.add('picked');
    panel.hidden=false;
  }
  function close(){ panel.hidden=true; if(picked){ picked.classList.remove('picked'); picked.focus(); } }
  if(rows.length&&rows[0].cells.length>first){ current=rows[0].cells[first]; current.tabIndex=0; }
  table.addEventListener('click',function(e){
    var td=e.target.closest('td'); if(!dayCell(td)) return; focusCell(td); open(td);
  });
  table.addEventListener('keydown',function(e){
    var td=e.target; if(!dayCell(td)) return;
    var r=td.parentNode.sectionRowIndex, c=td.cellIndex, next=null;
    if(e.key==='ArrowRight') next=rows[r].cells[c+1];
    else if(e.key==='ArrowLeft'&&c>first) next=rows[r].cells[c-1];
    else if(e.key==='ArrowDown'&&r+1<rows.length) next=rows[r+1].cells[c];
    else if(e.key==='ArrowUp'&&r>0) next=rows[r-1].cells[c];
    else if(e.key==='Home') next=rows[r].cells[first];
    else if(e.key==='End') next=rows[r].cells[rows[r].cells.length-1];
    else if(e.key==='Enter'||e.key===' '){ e.preventDefault(); open(td); return; }
    else if(e.key==='Escape'){ close(); return; }
    if(next){ e.preventDefault(); focusCell(next); }
  });
  panel.querySelector('.explain-close').addEventListener('click',close);
  panel.addEventListener('keydown',function(e){ if(e.key==='Escape') close(); });
})();
