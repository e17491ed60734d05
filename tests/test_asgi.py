"""request.totp under a real ASGI server (uvicorn): async views use `await request.atotp()`."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
import uvicorn
from django.core.asgi import get_asgi_application

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def asgi_server() -> Iterator[str]:
    """The test site under uvicorn in a thread; its requests see the committed test data."""
    config = uvicorn.Config(
        get_asgi_application(), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_an_async_exempt_view_reads_the_state_under_uvicorn(asgi_server, client, user, device):
    # Before `atotp`, the view's read of request.totp raised SynchronousOnlyOperation (a 500).
    assert client.login(username=user.username, password=PASSWORD)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    request = urllib.request.Request(f"{asgi_server}/async-help/", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local server
        assert response.read() == b"async help; verified=False; device=True"
