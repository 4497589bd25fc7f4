"""The browser chat app over the qa package: `qa serve` or `python app.py`.

Modules, from the bottom up: `render` (HTML), `state` (the conversation), `uploads`, `handlers`
(ChatApp, Models), `layout` (build_ui), `openai_api` (the /v1 routes), `server` (serve); `cli` is the
`qa` command, with serve.
The qa package never imports this one: the dependency points one way, web -> qa.
"""
