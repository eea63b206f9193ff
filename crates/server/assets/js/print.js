// "Print or save as PDF" buttons: the page's CSP allows no inline handlers.
document.addEventListener('click', (event) => {
  if (event.target.closest('[data-print]')) window.print();
});
