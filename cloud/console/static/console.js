// berth console: the little the pages need beyond HTML. The player starts
// at the opening window of the resumed recording (the #t= fragment) and
// stops at its end, so a supervisor hears the restart first.
document.addEventListener("DOMContentLoaded", () => {
  const v = document.getElementById("player");
  if (v) {
    const m = /#t=([\d.]+),([\d.]+)/.exec(v.getAttribute("src") || "");
    if (m) {
      const end = parseFloat(m[2]);
      v.addEventListener("timeupdate", () => {
        if (v.currentTime >= end && !v.dataset.past) { v.pause(); v.dataset.past = "1"; }
      });
    }
  }
  // A written explanation is required to acknowledge.
  const ack = document.getElementById("do-acknowledge");
  const c = document.getElementById("comment");
  if (ack && c) {
    ack.addEventListener("click", (e) => {
      if (!c.value.trim()) { e.preventDefault(); c.focus(); c.setAttribute("aria-invalid", "true"); }
    });
  }
});
