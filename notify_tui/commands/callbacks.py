"""``notify-tui callbacks``: receive the provider's status callbacks (push) over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta

from notify_tui.commands import CommandError
from notify_tui.commands.sandbox import _check_can_listen
from notify_tui.config import Settings
from notify_tui.domain.text import visible
from notify_tui.services.callbacks import CallbackReceiver
from notify_tui.services.runtime import Runtime


def signing_token(settings: Settings) -> str:
    """The token the provider signs callbacks with: the account's auth token (also when sending
    with an API key); for a sandbox (no account configured), the sandbox's."""
    if settings.account_sid:
        if settings.auth_token is None:
            raise CommandError(
                "the callbacks receiver needs the account's auth token (TWILIO_AUTH_TOKEN, or "
                "auth_token in the config file): it signs every callback, even when you send "
                "with an API key"
            )
        return settings.auth_token.reveal()
    from notify_tui.provider import SANDBOX_AUTH_TOKEN

    if settings.sandbox_auth_token is not None:
        return settings.sandbox_auth_token.reveal()
    return SANDBOX_AUTH_TOKEN


def make_receiver(runtime: Runtime, public_url: str) -> CallbackReceiver:
    """The receiver of this runtime's account, applying the opt-out policy as it resolves."""
    from notify_tui.provider import SANDBOX_ACCOUNT_SID

    settings = runtime.settings
    return CallbackReceiver(
        public_url=public_url,
        auth_token=signing_token(settings),
        account_sid=settings.account_sid or SANDBOX_ACCOUNT_SID,
        grace=timedelta(seconds=settings.callback_grace),
        on_applied=runtime.policy_hook(),
        early_ttl=timedelta(seconds=settings.callback_early_ttl),
        early_limit=settings.callback_early_limit,
    )


def run_callbacks(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui callbacks``: serve the status callback URL until Ctrl+C."""
    public_url = args.public_url or settings.status_callback_url
    if not public_url:
        raise CommandError(
            "no public URL to answer on: give --public-url, or set status_callback_url "
            "(NOTIFY_STATUS_CALLBACK_URL), the URL the provider calls"
        )
    if args.public_url:
        from notify_tui.config import _check_callback_url

        _check_callback_url(public_url, "option --public-url")
    signing_token(settings)  # before anything opens: a missing token is one line
    _check_can_listen(args.host, args.port)
    return asyncio.run(_serve(args, settings, public_url))


async def _serve(args: argparse.Namespace, settings: Settings, public_url: str) -> int:
    import uvicorn

    runtime = Runtime.open(settings)
    try:
        receiver = make_receiver(runtime, public_url)
        print(
            f"Receiving status callbacks on http://{args.host}:{args.port}{receiver.path} "
            f"for {visible(public_url)}. Ctrl+C stops it.",
            flush=True,
        )
        config = uvicorn.Config(
            receiver,
            host=args.host,
            port=args.port,
            lifespan="on",
            log_level="warning" if args.quiet else "info",
            access_log=False,
            timeout_keep_alive=75,
        )
        server = uvicorn.Server(config)
        try:
            await server.serve()
        finally:
            stats = receiver.stats
            print(
                f"callbacks: {stats['received']:,} received, {stats['resolved']:,} resolved, "
                f"{stats['forged']:,} refused (signature), {stats['foreign']:,} foreign",
                file=sys.stderr,
            )
    finally:
        await runtime.aclose()
    return 0
