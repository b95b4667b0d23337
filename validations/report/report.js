(function(){
  var table=document.getElementById('findings-table'); if(!table) return;
  var body=table.tBodies[0];
  table.querySelectorAll('button.sort').forEach(function(button){
    button.addEventListener('click',function(){
      var col=+button.dataset.col, up=button.getAttribute('aria-sort')!=='ascending';
      table.querySelectorAll('button.sort').forEach(function(b){b.removeAttribute('aria-sort');});
      button.setAttribute('aria-sort',up?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      function key(r){var c=r.cells[col];var v=c.hasAttribute('data-v')?c.getAttribute('data-v'):c.textContent;
        var n=parseFloat(v);return (v!==''&&!isNaN(n)&&isFinite(v))?n:v.toLowerCase();}
      rows.sort(function(a,b){var x=key(a),y=key(b);
        if(typeof x!==typeof y){x=String(x);y=String(y);} return (x<y?-1:x>y?1:0)*(up?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
