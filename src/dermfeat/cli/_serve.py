"""``dermfeat serve MODEL``: the local web demo (upload a photo, see the decision and why)."""

from __future__ import annotations

import ipaddress
import sys

from ._options import existing_folder


def add_parser(subparsers):
    from ..serve._app import DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_QUEUED
    from ..serve._predictor import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES

    parser = subparsers.add_parser("serve", help="local web demo: upload a photo, see the decision and heat map")
    parser.add_argument("model", help="model file written by 'dermfeat fit'")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_BYTES / 1024 / 1024,
                        help=f"largest upload in MiB (default {DEFAULT_MAX_UPLOAD_BYTES // 1024 // 1024})")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"largest image in pixels (default {DEFAULT_MAX_PIXELS:,})")
    parser.add_argument("--max-concurrent", type=int, default=DEFAULT_MAX_CONCURRENT,
                        help=f"photos decoded and analysed at the same time (default {DEFAULT_MAX_CONCURRENT})")
    parser.add_argument("--max-queued", type=int, default=DEFAULT_MAX_QUEUED,
                        help="uploads accepted at once, waiting ones included; more are answered 503 "
                        f"(default {DEFAULT_MAX_QUEUED})")
    parser.add_argument("--severity-model", default=None,
                        help="a saved ordinal severity model; without it the page says nothing about severity")
    parser.add_argument("--model-dir", default=None, type=existing_folder,
                        help="where the embedding model files are, if moved (must exist)")
    parser.add_argument("--allow-pickle", action="store_true", help="allow a pickle model file (only your own)")
    parser.set_defaults(run=run)


def is_loopback(host):
    """Whether ``host`` only listens on this computer."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args):
    try:
        import uvicorn
    except ImportError:
        raise ImportError('dermfeat serve needs the serve extra: pip install "dermfeat[serve]"') from None
    from ..serve import LOCAL_HOSTS, DemoPredictor, create_app
    from ._errors import reading
    from ._options import load_saved_model

    local = is_loopback(args.host)
    model, metadata = load_saved_model(args.model, allow_pickle=args.allow_pickle, model_dir=args.model_dir)
    with reading(args.model, "the model"):
        predictor = DemoPredictor(model, metadata=metadata, max_pixels=args.max_pixels)
    if args.severity_model is not None:
        with reading(args.severity_model, "the severity model"):
            predictor = DemoPredictor(model, metadata=metadata, severity_model=args.severity_model,
                                      max_pixels=args.max_pixels, allow_pickle=args.allow_pickle,
                                      model_dir=args.model_dir)
    app = create_app(
        predictor,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_pixels=args.max_pixels,
        max_concurrent=args.max_concurrent,
        max_queued=args.max_queued,
        allowed_hosts=LOCAL_HOSTS if local else None,
    )
    if not local:
        print(f"warning: listening on {args.host}: anyone who can reach this address can upload photos. "
              "The demo has no authentication; use it on a trusted network only.", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"dermfeat web demo for {args.model}: open http://{shown}:{args.port}/  (Ctrl+C to stop)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
