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
  // a key for the server, through a hidden textbox whose change event the server reads: the Timeline
  // tab's keys ("tl-i-j") through its own box, the others through the chat's
  const bridgeTo = (key) => {
    const bridge = key.startsWith('tl-') ? '#timeline-bridge' : '#cite-bridge';
    const box = document.querySelector(bridge + ' textarea, ' + bridge + ' input');
    if (!box) return;
    box.value = key + ':' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  // where the pointer went down: a click on a dot is one that did not move (a drag is the plot's brush)
  let down = null;
  document.addEventListener('pointerdown', (ev) => { down = [ev.clientX, ev.clientY]; }, true);
  document.addEventListener('click', (ev) => {
    // a dot of the Timeline plot: Gradio's plot reports only a dragged stretch (a click makes an empty
    // brush, which it drops), but Vega keeps each dot's row on its SVG element, and the row's "n" is the
    // event's index in the timeline (render.timeline_frame): it opens as a click on the event's line does.
    // Inside a dragged stretch the brush's rectangle lies over the dots: the dot is the one under it.
    const dots = '#timeline-plot g.mark-symbol.role-mark path';
    const still = down && Math.hypot(ev.clientX - down[0], ev.clientY - down[1]) < 5;
    const inPlot = still && ev.target && ev.target.closest && ev.target.closest('#timeline-plot');
    const dot = inPlot && (ev.target.closest(dots) ||
      document.elementsFromPoint(ev.clientX, ev.clientY).find((el) => el.matches && el.matches(dots)));
    const row = dot && dot.__data__ && dot.__data__.datum;
    if (row && Number.isInteger(row.n) && row.n >= 0) {
      bridgeTo('tl-' + row.n + '-0');
      return;
    }
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
    bridgeTo(key);  // a timeline event ("tl-i-j") has its own bridge, read by the Timeline tab
  }, true);
}
