"""invoicing.pdf: HTML in, PDF bytes out. These tests use no database (pytest-django
refuses one without the django_db mark), which is what keeps render_pdf pure."""

import io
import socket
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from PIL import Image
from pypdf import PdfReader

from invoicing.pdf import ResourceRefused, StaticOnlyURLFetcher, render_pdf
from invoicing.qr import qr_data_uri

STYLE = """<style>
@page { size: A4; margin: 15mm; }
body { font-family: "Noto Sans CJK SC"; font-size: 10.5pt; }
h1 { font-family: "Noto Serif CJK SC"; font-weight: bold; }
</style>"""


def page(body: str) -> str:
    return f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">{STYLE}</head><body>{body}</body></html>'


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in read(pdf).pages)


def image_count(pdf: bytes) -> int:
    return sum(len(p.images) for p in read(pdf).pages)


def png_bytes(color="red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def static_dir(settings, tmp_path):
    """A static directory of this project holding img/stamp.png."""
    directory = tmp_path / "static"
    (directory / "img").mkdir(parents=True)
    (directory / "img" / "stamp.png").write_bytes(png_bytes())
    settings.STATICFILES_DIRS = [directory]
    return directory


class Listener:
    """A TCP port on 127.0.0.1 that tells whether anything connected to it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(5)
        self.server.settimeout(0.3)
        self.port = self.server.getsockname()[1]

    def connections(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return count
            connection.close()
            count += 1


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.server.close()


class TestFonts:
    def test_chinese_text_renders_with_embedded_subset_noto_cjk_fonts(self):
        pdf = render_pdf(page("<h1>开票信息确认单</h1><p>购买方：上海某某网络科技有限公司</p>"))

        assert "开票信息确认单" in text_of(pdf)
        assert "上海某某网络科技有限公司" in text_of(pdf)
        fonts = {}
        for font in read(pdf).pages[0]["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = descriptor["/FontFile3"].get_object().get_data()
        names = {name.split("+", 1)[1] for name in fonts}
        assert names == {"Noto-Serif-CJK-SC-Bold", "Noto-Sans-CJK-SC"}  # real bold, not synthetic
        # Subset ("ABCDEF+" prefix, far below the system fonts' 16-25 MB).
        assert all("+" in name for name in fonts)
        assert all(len(data) < 1_000_000 for data in fonts.values())


class TestResources:
    def test_static_files_render_by_static_scheme_path_and_file_url(self, static_dir):
        png = static_dir / "img" / "stamp.png"
        html = page(
            f'<img src="static:img/stamp.png"><img src="/static/img/stamp.png"><img src="{png.as_uri()}">'
        )

        assert image_count(render_pdf(html)) == 3

    def test_data_uri_renders(self):
        import base64

        data = base64.b64encode(png_bytes("blue")).decode()

        assert image_count(render_pdf(page(f'<img src="data:image/png;base64,{data}">'))) == 1

    def test_remote_and_non_static_files_are_not_fetched(self, static_dir, listener, tmp_path):
        port = listener.port
        outside = tmp_path / "outside.png"
        outside.write_bytes(png_bytes())
        html = page(
            f'<link rel="stylesheet" href="http://127.0.0.1:{port}/x.css">'
            f'<img src="http://127.0.0.1:{port}/x.png">'
            '<img src="http://127.0.0.1:9/x.png">'
            '<img src="file:///etc/passwd">'
            f'<img src="{outside.as_uri()}">'
            '<img src="/static/../outside.png">'
            '<img src="static:../outside.png">'
            f'<div style="background: url(http://127.0.0.1:{port}/bg.png)">正文照常</div>'
        )

        pdf = render_pdf(html)

        assert "正文照常" in text_of(pdf)
        assert image_count(pdf) == 0
        assert listener.connections() == 0

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:9/x.png",
            "https://example.com/static/img/favicon.svg",
            "ftp://example.com/x.png",
            "file:///etc/passwd",
            "file://remote-host/static/img/favicon.svg",
            "static:../mall/settings/base.py",
            "static:/etc/passwd",
            "static:img/%2e%2e/%2e%2e/mall/settings/base.py",
            "http://127.0.0.1:8000/static/../mall/settings/base.py",
            "http://127.0.0.1:8000/media/contracts/a.pdf",
        ],
    )
    def test_fetcher_refuses(self, settings, url):
        settings.SITE_URL = "http://127.0.0.1:8000"
        fetcher = StaticOnlyURLFetcher(origins={"http://127.0.0.1:8000"})

        with pytest.raises(ResourceRefused):
            fetcher.fetch(url)

    def test_fetcher_serves_project_static_file_from_disk(self, settings):
        fetcher = StaticOnlyURLFetcher(origins={"http://127.0.0.1:8000"})

        response = fetcher.fetch("http://127.0.0.1:8000/static/img/favicon.svg")

        assert response.content_type == "image/svg+xml"
        assert response.read() == (Path(settings.BASE_DIR) / "static/img/favicon.svg").read_bytes()


class TestEscaping:
    def test_user_text_in_a_template_stays_text(self, settings, tmp_path, listener):
        port = listener.port
        (tmp_path / "document.html").write_text(
            page("<h1>{{ title }}</h1><p>店铺：{{ store }}</p>"), encoding="utf-8"
        )
        settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
        title = "<script>alert(1)</script>"
        store = f'<img src="http://127.0.0.1:{port}/x">'

        html = render_to_string("document.html", {"title": title, "store": store})
        pdf = render_pdf(html)

        assert "&lt;script&gt;" in html and "<script>" not in html
        text = text_of(pdf).replace("\n", "")
        assert title in text
        assert store in text
        assert image_count(pdf) == 0
        assert b"/JavaScript" not in pdf and b"/JS " not in pdf
        assert listener.connections() == 0


class TestQr:
    def test_qr_code_is_an_svg_data_uri_that_renders(self):
        uri = qr_data_uri("https://cloudmall.example/contracts/verify/abc/")

        assert uri.startswith("data:image/svg+xml")
        with_qr = render_pdf(page(f'<img src="{uri}" style="width:30mm">'))
        without = render_pdf(page(""))
        assert len(read(with_qr).pages[0].get_contents().get_data()) > len(
            read(without).pages[0].get_contents().get_data()
        ) + 500
