"""`kavan serve`: a small web page where a person drops a GIF and sees its attention, emotions and quadrant.

May import: everything below it except kavan.cli (it uses kavan.predict and kavan.media).
"""

from kavan.serve.app import DemoApp, DemoServer, ServeSettings, UploadRefused, make_server

__all__ = ["DemoApp", "DemoServer", "ServeSettings", "UploadRefused", "make_server"]
