// Applies the saved theme before the page paints (no flash). Without a saved choice the CSS
// follows prefers-color-scheme.
try {
  var saved = localStorage.getItem('handoff-theme');
  if (saved === 'light' || saved === 'dark') document.documentElement.setAttribute('data-theme', saved);
} catch (e) { /* storage unavailable: follow the system */ }
