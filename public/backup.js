// The backup page, live: while a backup runs, poll its JSON and update the progress and the log tail
// without reloading; reload once it ends, so the finished page (digest, contents, links) shows.
(() => {
  const live = document.getElementById('live');
  if (!live || live.dataset.live !== '1') return;
  const id = live.dataset.backup;
  let lastLog = Number(live.dataset.lastLog || 0);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  const bytes = (v) => {
    if (v == null) return '—';
    let n = v;
    let u = 0;
    while (n >= 1000 && u < units.length - 1) {
      n /= 1000;
      u++;
    }
    return `${u === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[u]}`;
  };
  const duration = (s) => {
    if (s == null) return '—';
    s = Math.round(s);
    return s < 60
      ? `${s} s`
      : s < 3600
        ? `${Math.floor(s / 60)} min ${s % 60} s`
        : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  };
  const set = (elementId, text) => {
    const el = document.getElementById(elementId);
    if (el) el.textContent = text;
  };
  const log = document.getElementById('log');

  async function tick() {
    let data;
    try {
      const response = await fetch(`/api/v1/backups/${id}?logs_after=${lastLog}`, {
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      });
      // Signed out (sessions end after 12 hours) or the backup is gone: say so instead of polling on.
      if (response.status === 401 || response.status === 404) {
        set(
          'phase',
          response.status === 401
            ? 'signed out: reload the page from Heroku to keep watching'
            : 'this backup no longer exists',
        );
        return;
      }
      if (!response.ok) return schedule(5000);
      data = await response.json();
    } catch {
      return schedule(5000);
    }
    // A new state (started, verifying, finished, a retry) changes more than the progress block: reload.
    if (`${data.state}:${data.attempt}` !== live.dataset.state) {
      window.location.reload();
      return;
    }
    const p = data.progress || {};
    const progress = document.getElementById('progress');
    const total = p.sourceBytes || data.source.bytes;
    if (progress) {
      progress.max = total || progress.max;
      progress.value = Math.min(p.sourceBytesDone || 0, progress.max);
    }
    set('phase', data.phase || (data.attempt > 0 ? 'waiting to retry' : 'queued'));
    set('fork-state', data.fork ? `${data.fork.name || ''} ${data.fork.state || ''}` : data.source.mode || '—');
    set(
      'bytes',
      `about ${bytes(p.sourceBytesDone)} of ${bytes(total)}${total && p.sourceBytesDone ? ` (${Math.floor((100 * p.sourceBytesDone) / total)} %)` : ''}`,
    );
    set('written', bytes(p.bytes));
    set('table', p.currentTable || '—');
    set('rate', p.sourceBytesPerSecond == null ? '—' : `${bytes(p.sourceBytesPerSecond)}/s of the database`);
    set('eta', duration(p.etaSeconds));
    if (log && data.logs.length) {
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(document.createTextNode(data.logs.map((l) => l.message + '\n').join('')));
      lastLog = data.logs[data.logs.length - 1].id;
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
    // A full page means more lines are waiting (a tab that slept): fetch them now.
    schedule(data.logs_more ? 0 : 1500);
  }
  function schedule(ms) {
    setTimeout(tick, ms);
  }
  schedule(1000);
})();
