(key) => {
  setTimeout(() => {
    const target = (key || '').startsWith('cite-')
      ? document.querySelector('#sources .src-card.selected')
      : document.querySelector('#viewer #cited-span') || document.querySelector('#viewer .article-view');
    if (target) target.scrollIntoView({block: 'center'});
  }, 50);
  return [];
}
