// The library page's live parts. The page works without this file: the forms post and the
// server renders the result; the rebuild's state is shown as it was when the page loaded.
// With it: the progress bar follows GET /index/status, the document list refreshes when a
// rebuild ends, the filter box filters as you type, chosen files are checked early, and
// Remove asks with confirm() instead of opening the confirmation page.
"use strict";

(function () {
  const section = document.getElementById("rebuild");
  if (!section) return;
  const bar = document.getElementById("rebuild-bar");
  const message = document.getElementById("rebuild-message");
  let seen = Number(section.dataset.rebuilds || "0");
  let active = section.dataset.active === "true";
  let idlePolls = 0;
  // The bar shows the progress of all the rebuilds since the page went busy, and never goes
  // back: a rebuild queued meanwhile shares the bar with the one running (each its part),
  // and the bar waits at its value until the whole catches up with it.
  let period = active ? { start: seen, shown: Number(bar.value) || 0 } : null;

  function overall(status) {
    if (period === null) period = { start: status.rebuilds, shown: 0 };
    const finished = Math.max(0, status.rebuilds - period.start);
    const current = status.rebuilding ? (status.percent || 0) / 100 : 0;
    const runs = finished + (status.rebuilding ? 1 : 0) + (status.queued ? 1 : 0);
    const whole = runs ? (100 * (finished + current)) / runs : 0;
    period.shown = Math.max(period.shown, Math.floor(whole));
    return period.shown;
  }

  function show(status) {
    const busy = status.rebuilding || status.queued;
    section.dataset.active = busy ? "true" : "false";
    if (busy) {
      bar.hidden = false;
      bar.value = overall(status);
      bar.textContent = bar.value + "%";
      const then = status.queued ? " Another rebuild is queued for the latest changes." : "";
      message.textContent = status.rebuilding
        ? "Rebuilding: " + status.message + "." + then
        : "A rebuild is queued and about to start.";
    } else {
      period = null;
      bar.value = 100;
      message.textContent = status.error
        ? "The last rebuild failed: " + status.error
        : "Up to date.";
    }
  }

  async function refreshList() {
    // The list, figures and skipped files as the server renders them now.
    const response = await fetch("/library" + window.location.search, {
      headers: { Accept: "text/html" },
    });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["documents", "skipped", "generation", "total-documents", "total-chunks"]) {
      const now = document.getElementById(id);
      const next = fresh.getElementById(id);
      if (now && next) now.replaceWith(next);
    }
    bar.hidden = true;
    bindFilter();
  }

  async function poll() {
    let delay = 1000;
    try {
      const response = await fetch("/index/status", { headers: { Accept: "application/json" } });
      if (response.ok) {
        const status = await response.json();
        show(status);
        const busy = status.rebuilding || status.queued;
        if (!busy && status.rebuilds !== seen) {
          seen = status.rebuilds;
          await refreshList();
        }
        if (busy) {
          active = true;
          idlePolls = 0;
          delay = 300;
        } else {
          idlePolls += 1;
          delay = idlePolls > 20 ? 3000 : 1000;
        }
      }
    } catch (error) {
      delay = 3000; // the server restarts, or the network is gone: try again later
    }
    window.setTimeout(poll, delay);
  }

  function bindFilter() {
    const box = document.getElementById("filter");
    const count = document.getElementById("shown-count");
    if (!box) return;
    box.addEventListener("input", function () {
      const needle = box.value.trim().toLowerCase();
      const rows = document.querySelectorAll("table.library tbody tr[data-search]");
      let shown = 0;
      rows.forEach(function (row) {
        const match = row.dataset.search.includes(needle);
        row.hidden = !match;
        if (match) shown += 1;
      });
      if (count) count.textContent = shown + " of " + rows.length + " documents shown.";
    });
  }

  function bindUpload() {
    const form = document.getElementById("upload");
    const input = document.getElementById("files");
    const note = document.getElementById("upload-check");
    if (!form || !input || !note) return;
    const maxFiles = Number(form.dataset.maxFiles);
    const maxFile = Number(form.dataset.maxFileMb) * 1024 * 1024;
    const maxUpload = Number(form.dataset.maxUploadMb) * 1024 * 1024;
    const types = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"];
    function problems() {
      const found = [];
      const files = Array.from(input.files || []);
      if (files.length > maxFiles) {
        found.push("too many files: at most " + maxFiles + " per upload; send the others in another");
      }
      let total = 0;
      files.forEach(function (file) {
        total += file.size;
        const dot = file.name.lastIndexOf(".");
        const type = dot < 0 ? "" : file.name.slice(dot).toLowerCase();
        if (!types.includes(type)) {
          found.push(file.name + ": unsupported file type " + (type || "(no extension)"));
        } else if (file.size > maxFile) {
          const mb = (file.size / (1024 * 1024)).toFixed(1).replace(/\.0$/, "");
          found.push(file.name + ": file too large: " + mb + " MB, the limit is " +
            form.dataset.maxFileMb + " MB a file");
        }
      });
      const blocking = files.length > maxFiles || total > maxUpload;
      if (total > maxUpload) found.push("all together larger than " + form.dataset.maxUploadMb + " MB; send fewer at once");
      return { found: found, blocking: blocking };
    }
    input.addEventListener("change", function () {
      const result = problems();
      note.textContent = result.found.join("; ");
    });
    form.addEventListener("submit", function (event) {
      const result = problems();
      if (result.blocking) {
        event.preventDefault();
        note.textContent = result.found.join("; ");
      }
    });
  }

  function bindRemove() {
    // Without JavaScript, Remove opens a confirmation page; with it, confirm() asks here.
    // Delegated from the document: the list (and the form in it) is replaced after rebuilds.
    document.addEventListener("click", function (event) {
      const link = event.target.closest("a.remove");
      const form = document.getElementById("remove-form");
      if (!link || !form) return;
      event.preventDefault();
      const docId = link.dataset.docId;
      if (window.confirm("Remove " + docId + "? The file goes to .trash/ in the docs folder.")) {
        form.elements.doc_id.value = docId;
        form.submit();
      }
    });
  }

  bindFilter();
  bindUpload();
  bindRemove();
  if (active) bar.hidden = false;
  poll();
})();
