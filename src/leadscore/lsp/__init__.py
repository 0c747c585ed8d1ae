"""`leadscore lsp`: the language server for rule files (LSP over stdio, pygls).

The server is thin wiring (server.py); each feature is a pure function from an
`Analysis` of one document (analysis.py, symbols.py) to LSP values.
"""
