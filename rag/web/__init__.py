"""The web app: ``app`` (the Gradio chat, its shared state and rebuilds) and ``render``
(the HTML and Markdown it shows; everything from a release or a user escaped)."""
