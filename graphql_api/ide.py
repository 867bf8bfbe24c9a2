"""GraphiQL from our own build, for browsers opening ``/graphql``.

strawberry's page loads GraphiQL, React and their styles from public CDNs, so it fails
without internet and tells those CDNs who browses the API. The catalog browser's build
(``browser/``, esbuild) carries GraphiQL as a second page in its ``graphiql/`` folder,
whose scripts, styles, fonts and editor workers are all served by stacql. The page's
``<base href="./">`` is pointed at that folder when it is served at ``/graphql``, so its
relative links find the files wherever the service is mounted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.responses import HTMLResponse

PLACEHOLDER = '<base href="./">'
NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>GraphiQL not built</title>
<h1>GraphiQL is not built</h1>
<p>stacql serves GraphiQL from <code>{dir}</code>, which has no <code>index.html</code>.
Build it with <code>cd browser &amp;&amp; npm ci &amp;&amp; npm run build</code>
(<code>scripts/setup.sh</code> does it), or point <code>STACQL_BROWSER_DIR</code> at a build.
GraphQL itself answers POST and GET requests at this address.</p>
</html>"""


@dataclass(frozen=True)
class GraphiQLPage:
    """The GraphiQL page of the build in ``directory``, whose files are served at
    ``assets_url`` (relative to ``/graphql``, e.g. ``browse/graphiql/``)."""

    directory: Path
    assets_url: str

    def response(self) -> HTMLResponse:
        """The page, or a 503 page saying how to build it (looked at on each request, so
        a build made while the service runs is served without a restart)."""
        index = self.directory / "index.html"
        try:
            page = index.read_text(encoding="utf-8")
        except FileNotFoundError:
            return HTMLResponse(NOT_BUILT.format(dir=self.directory), status_code=503)
        page = page.replace(PLACEHOLDER, f'<base href="{self.assets_url}">', 1)
        # The page changes with each build; revalidating costs one small request.
        return HTMLResponse(page, headers={"cache-control": "no-cache"})
