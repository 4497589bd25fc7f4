() => {
  if (window.__qaCiteHook) return;
  window.__qaCiteHook = true;
  document.addEventListener('click', (ev) => {
    const a = ev.target && ev.target.closest &&
      ev.target.closest('a[href^="#cite-"], a[href^="#open-"], a[href^="#hit-"], a[href^="#tl-"]');
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    const key = a.getAttribute('href').slice(1);
    const m = key.match(/^cite-(\d+)-(\d+)$/);
    const card = m && document.getElementById('src-' + m[1] + '-' + m[2]);
    if (card) {
      document.querySelectorAll('.src-card.selected').forEach((c) => c.classList.remove('selected'));
      card.classList.add('selected');
      card.scrollIntoView({block: 'nearest'});
    }
    // a timeline event ("tl-i-j") has its own bridge, read by the Timeline tab
    const bridge = key.startsWith('tl-') ? '#timeline-bridge' : '#cite-bridge';
    const box = document.querySelector(bridge + ' textarea, ' + bridge + ' input');
    if (!box) return;
    box.value = key + ':' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
}
