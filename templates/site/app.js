// Preselect the reader's own time zone in the subscribe form (no inline scripts: CSP).
document.addEventListener("DOMContentLoaded", () => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const select of document.querySelectorAll('select[data-browser-zone="yes"]')) {
    if ([...select.options].some((option) => option.value === zone)) select.value = zone;
  }
});
