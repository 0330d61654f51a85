"""The HTTP side of the product: the FastAPI app over `qa.pipeline.Assistant`.

app.py       create_app(): composes the routers, middleware and error handlers; run()
api.py       APIRouter: POST/GET /ask, GET /documents/{doc_id}, POST /index/rebuild, /health
pages.py     APIRouter: the page (GET /, GET /?q=) and GET /documents/{doc_id}/view
apidocs.py   APIRouter: /docs, Swagger UI served offline
deps.py      the dependencies routes declare: the service, a ready index, the templates
errors.py    every error as a message a person can act on (JSON, or HTML for browsers)
guard.py     the outermost middleware: headers, body limit, request log; who may rebuild
library.py   APIRouter: GET/POST /documents, DELETE /documents/{doc_id}, /index/status, /library
catalog.py   what the library lists: the indexed documents, filtered, sorted, formatted
intake.py    uploads over HTTP: the multipart form read, each file checked, the good ones stored
write_access.py  who may change the documents: origin, admin token, builder; the page's cookie
fast_ask.py  plainly valid POST /ask requests answered without the framework's layers
models.py    request and response models (the HTTP contract, as OpenAPI shows it)
service.py   the index's life in a server: first build, readiness, rebuilds, --watch
"""
