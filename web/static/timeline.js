() => {
  setTimeout(() => {
    const target = document.querySelector('#timeline-viewer #cited-span') ||
      document.querySelector('#timeline-viewer .article-view');
    if (target) target.scrollIntoView({block: 'center'});
    const picked = document.querySelector('#timeline-list .tl-event.selected');
    if (picked) picked.scrollIntoView({block: 'nearest'});
  }, 50);
  return [];
}
