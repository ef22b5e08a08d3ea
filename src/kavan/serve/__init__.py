"""`kavan serve`: a small web page where a person drops a GIF and sees its attention, emotions and quadrant."""

from kavan.serve.app import DemoApp, DemoServer, ServeSettings, UploadRefused, make_server

__all__ = ["DemoApp", "DemoServer", "ServeSettings", "UploadRefused", "make_server"]
