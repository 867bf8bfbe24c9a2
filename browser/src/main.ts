/** The catalog browser: a hash router over the search, item and upload pages. */

import { renderItem } from "./item";
import { renderSearch } from "./search";
import { renderUpload } from "./upload";

function route(): void {
  const main = document.getElementById("main") as HTMLElement;
  const path = location.hash.replace(/^#/, "") || "/";
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  let page = "search";
  if (parts[0] === "item" && parts.length === 3) {
    page = "item";
    document.title = `${parts[2]} · stacql`;
    void renderItem(main, parts[1], parts[2]);
  } else if (parts[0] === "upload") {
    page = "upload";
    document.title = "Upload · stacql";
    renderUpload(main);
  } else {
    document.title = "Search · stacql";
    renderSearch(main);
  }
  document.body.dataset.page = page;
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a[data-nav]")) {
    if (link.dataset.nav === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  window.scrollTo(0, 0);
}

// A file dropped beside the drop zone must not replace the page with the file.
for (const type of ["dragover", "drop"]) window.addEventListener(type, (event) => event.preventDefault());
window.addEventListener("hashchange", route);
route();
