"""Building the index: article files, pages and feeds in, a new generation of the index out.

files -> `ingest` (with `clean`) -> Article -> `dedup` -> `chunk` -> Chunk -> embedded -> `qa.store`,
run by `build.build_index`; URLs and feeds -> `fetch` -> `pages` (and `feeds`) -> a Markdown file in
the articles folder, run by `add`, which then indexes what it saved. `lock` keeps it to one build
per index and one fetching run per articles folder.
"""
