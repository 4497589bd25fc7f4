() => {
  if (window.__qaCiteHook) return;
  window.__qaCiteHook = true;
  // "Copy as Markdown": the Clipboard API where the page is a secure context (127.0.0.1, https), else
  // the older copy command, which also works on a plain-http address of another host.
  window.__qaCopy = async (text, buttonId) => {
    if (!text) return [];
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch (err) {
      const area = document.createElement('textarea');
      area.value = text;
      area.style.position = 'fixed';
      area.style.opacity = '0';
      document.body.appendChild(area);
      area.select();
      copied = document.execCommand('copy');
      area.remove();
    }
    const button = document.getElementById(buttonId);
    if (button) {  // say so on the button for a moment: nothing else shows that a copy happened
      const label = button.dataset.label || button.textContent;
      button.dataset.label = label;
      button.textContent = copied ? 'Copied ✓' : 'Copy failed';
      setTimeout(() => { button.textContent = label; }, 1500);
    }
    return [];
  };
  // "Download": the Markdown is already in the page, so it is saved from a Blob, with no file on the server.
  window.__qaDownload = (text, name) => {
    if (!text) return [];
    const url = URL.createObjectURL(new Blob([text], {type: 'text/markdown;charset=utf-8'}));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    return [];
  };
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
