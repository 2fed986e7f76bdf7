"""`snakemake --report` on a machine without network access.

Snakemake 7 downloads the report's JavaScript and CSS (React, Vega,
Tailwind) and their licences from CDNs while it writes the report. This runs
Snakemake with those downloads answered from Debian's packages where they
are installed (node-react, node-react-dom, libjs-vega), by stand-ins for
Tailwind (plain CSS for the classes the report uses) and Vega-Embed (a note
where each chart would be), and by an empty placeholder otherwise: the
report is written with all its results; the Vega-Lite charts are missing.

  python3 pipelines/scripts/report_offline.py -s pipelines/Snakefile \
      --configfile pipelines/config.yaml --report report.html
"""
import os
import sys

import requests

LOCAL = {
    "react.production.min.js": "/usr/share/nodejs/react/umd/react.production.min.js",
    "react-dom.production.min.js": "/usr/share/nodejs/react-dom/umd/react-dom.production.min.js",
    "vega.js": "/usr/share/javascript/vega/vega.min.js",
}


class Reply:
    status_code = requests.codes.ok

    def __init__(self, text):
        self.text = text


# Without Vega-Lite the report's charts (rule graph, runtimes) cannot be
# drawn: a stand-in for vegaEmbed says so where each chart would be.
VEGA_EMBED_STANDIN = """
window.vegaEmbed = function (el, spec) {
  var node = typeof el === "string" ? document.querySelector(el) : el;
  if (node) node.textContent = "(chart not drawn: Vega-Lite was not available offline)";
  var view = {addEventListener: function () {}, addSignalListener: function () {},
              signal: function () { return view; }, runAsync: function () { return Promise.resolve(view); }};
  return Promise.resolve({view: view, spec: spec});
};
"""


# Without Tailwind (a script that makes the page's CSS from its class names)
# the layout falls apart; this stand-in adds plain rules for the classes the
# report uses.
TAILWIND_STANDIN = r"""
(function () {
  var css = `
body { margin: 0; font-family: sans-serif; }
svg.h-4, .h-4 { height: 1rem; } .w-4 { width: 1rem; } .h-3 { height: .75rem; width: .75rem; }
.fixed { position: fixed; } .sticky { position: sticky; } .relative { position: relative; }
.top-0 { top: 0; } .left-0 { left: 0; } .z-50 { z-index: 50; } .z-0 { z-index: 0; }
.flex { display: flex; } .inline-flex { display: inline-flex; } .block { display: block; }
.inline-block { display: inline-block; } .items-center { align-items: center; }
.items-start { align-items: flex-start; } .justify-center { justify-content: center; }
.grow { flex-grow: 1; } .gap-1 { gap: .25rem; } .gap-2 { gap: .5rem; } .gap-3 { gap: .75rem; }
.w-1\\/5 { width: 20%; } .w-3\\/4 { width: 75%; } .w-full { width: 100%; } .w-fit { width: fit-content; }
.w-screen { width: 100vw; } .h-screen { height: 100vh; } .min-h-screen { min-height: 100vh; }
.max-h-screen { max-height: 100vh; } .min-w-fit { min-width: fit-content; } .max-w-lg { max-width: 32rem; }
.overflow-auto { overflow: auto; } .-translate-x-full { transform: translateX(-100%); }
.p-1 { padding: .25rem; } .p-2 { padding: .5rem; } .p-3 { padding: .75rem; } .pr-2 { padding-right: .5rem; }
.px-3 { padding-left: .75rem; padding-right: .75rem; } .py-1 { padding-top: .25rem; padding-bottom: .25rem; }
.m-2 { margin: .5rem; } .mx-1 { margin: 0 .25rem; } .mr-5 { margin-right: 1.25rem; } .mb-1 { margin-bottom: .25rem; }
.text-white { color: #fff; } .text-slate-700 { color: #334155; } .text-emerald-500 { color: #10b981; }
.text-sm { font-size: .875rem; } .text-xs { font-size: .75rem; } .text-l { font-size: 1.1rem; }
.font-bold { font-weight: 700; } .uppercase { text-transform: uppercase; } .tracking-wide { letter-spacing: .025em; }
.text-left { text-align: left; } .text-right { text-align: right; } .whitespace-nowrap { white-space: nowrap; }
.whitespace-pre-line { white-space: pre-line; } .rounded { border-radius: .25rem; }
.bg-slate-900\\/70 { background: rgba(15, 23, 42, .88); } .bg-slate-800 { background: #1e293b; }
.bg-white\\/80, .bg-white\\/70 { background: rgba(255, 255, 255, .85); } .bg-transparent { background: transparent; }
a { color: inherit; text-decoration: none; } .list-reset { list-style: none; padding: 0; }
table { border-collapse: collapse; } td, th { padding: .2rem .6rem; border-bottom: 1px solid #ddd; }
.prose { line-height: 1.5; color: #334155; } .prose dt { font-weight: 700; margin-top: .6rem; }
`;
  var style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
})();
"""


def local_get(url, *args, **kwargs):
    name = url.rsplit("/", 1)[-1].split("?")[0]
    path = LOCAL.get(name)
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return Reply(f.read())
    if name == "vega-embed.js":
        return Reply(VEGA_EMBED_STANDIN)
    if url.startswith("https://cdn.tailwindcss.com/"):
        return Reply(TAILWIND_STANDIN)
    return Reply(f"/* {url}: not available offline */")


requests.get = local_get

from snakemake import main  # noqa: E402  (after the patch, which it must see)

sys.exit(main())
