() => {
  setTimeout(() => {
    const target = document.querySelector('#viewer #cited-span') ||
      document.querySelector('#viewer .article-view');
    if (target) target.scrollIntoView({block: 'center'});
  }, 50);
  return [];
}
