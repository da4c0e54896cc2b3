// Progressive enhancement for every dashboard page; everything works without it.
(() => {
  // Times are rendered in UTC; show them in the viewer's own time zone.
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  for (const el of document.querySelectorAll('time.local[datetime]')) {
    const date = new Date(el.getAttribute('datetime'));
    if (!Number.isNaN(date.getTime())) {
      el.title = el.textContent;
      el.textContent = format.format(date);
    }
  }
  // Forms that destroy or stop something ask first.
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // A new schedule defaults to the browser's time zone.
  const zone = document.querySelector('input[name="timeZone"][data-default-browser-zone="1"]');
  if (zone && !zone.value) zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  // Copy buttons for links and tokens.
  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.addEventListener('click', async () => {
      const target = document.getElementById(button.dataset.copy);
      if (!target) return;
      await navigator.clipboard.writeText(target.value ?? target.textContent);
      button.textContent = 'Copied';
    });
  }
})();
