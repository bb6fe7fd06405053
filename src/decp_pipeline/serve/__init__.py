"""`decp serve`: `decp validate` as an HTTP service and a page for the publishers who never open a terminal.

The data flow of one request: upload.py streams the body into a temporary file (counted against the upload
limit), worker.py validates that file in a bounded pool of processes with exactly the code of `decp validate
--json` and a time limit, app.py answers with its document and deletes the file. page.py renders the French
page of `GET /`, openapi.py the document of `GET /openapi.json`.
"""
