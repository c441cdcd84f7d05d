"""invoicing.pdf: HTML in, PDF bytes out. These tests use no database (pytest-django
refuses one without the django_db mark), which is what keeps render_pdf pure."""

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.template.loader import render_to_string
from fontTools.cffLib import CFFFontSet
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops
from pypdf import PdfReader

from invoicing import pdf as pdf_module
from invoicing.pdf import CFFNotHandled, ResourceRefused, StaticOnlyURLFetcher, cid_cff_subset, render_pdf
from invoicing.qr import qr_data_uri

pytestmark = pytest.mark.once  # rendering is a pure function: no database

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


def embedded_fonts(pdf: bytes) -> dict:
    """BaseFont -> (CIDFont dictionary, font program stream) of the first page."""
    fonts = {}
    for font in read(pdf).pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        cid_font = font["/DescendantFonts"][0].get_object()
        program = cid_font["/FontDescriptor"].get_object()["/FontFile3"].get_object()
        fonts[str(font["/BaseFont"])] = (cid_font, program)
    return fonts


def widths_keys(cid_font) -> set[int]:
    """The CIDs a CIDFont's /W array gives widths for."""
    cids, items = set(), list(cid_font["/W"])
    while items:
        first, second = items.pop(0), items.pop(0)
        if isinstance(second, list):
            cids.update(range(first, first + len(second)))
        else:
            cids.update(range(first, second + 1))
            items.pop(0)
    return cids


def cff_font(program: bytes):
    font_set = CFFFontSet()
    font_set.decompile(io.BytesIO(program), None)
    return font_set[font_set.fontNames[0]]


def pdfium_page(pdf: bytes):
    """(text, grayscale image) of page 1 as pdfium (Chrome's PDF engine) reads it."""
    document = pdfium.PdfDocument(pdf)
    page = document[0]
    textpage = page.get_textpage()
    try:
        return textpage.get_text_range(), page.render(scale=1.5).to_pil().convert("L")
    finally:
        textpage.close()
        page.close()
        document.close()


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


# A one-page document styled like the real ones (documents.css, regular and bold), with
# more distinct characters than the invoice sheet or the contract with the demo agreement.
HANZI = (
    "开票信息确认单购买方销售方名称纳税人识别号地址电话开户行及账号商品清单项目单位数量单价金额税率税额"
    "合计价税大写小贰仟元整本确认列出具所用的不是状态待备注服务合同编号主订日期甲乙客户店铺联系内容交易流水"
    "期限款含协议条已于接受版其全文如下构成组部分第一订购通过云市场对的以所列及为准二费与经审核后进入中"
    "确认收货系统生成此完可用申请无需实际支付三应保证填写真实准确因错误导致延由承担四退可平台在规定"
    "内提交办理五到提醒将前邮件短信站消息接收六他自勾选我阅读并同意上时生效菊风公司有限上海闵行区景路弄"
    "万象企业心招商银软件股份百胜网络科技北京深圳广州杭州南京成都武汉西安重庆天津苏州长沙郑州青岛"
)
DOCUMENT = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<link rel="stylesheet" href="static:css/documents.css"></head><body>
<h1>开票信息确认单</h1>
<div class="meta"><span>主订单号: BS-ZX202611260001</span><span>发票类型: 普通发票</span></div>
<table class="parties"><tr><th>购买方</th><th>销售方</th></tr>
<tr><td><dl><dt>名称</dt><dd>上海百胜软件股份有限公司</dd></dl></td>
<td><dl><dt>名称</dt><dd>菊风公司信息有限公司</dd></dl></td></tr></table>
<h2>商品清单</h2>
<table><tr><th>项目名称</th><th class="num">金额</th></tr>
<tr><td>*软件服务*店铺对接服务</td><td class="num">1886.79</td></tr>
<tr class="total-row"><td>价税合计（大写）</td><td class="words">贰仟元整</td></tr></table>
<p class="agreement">{HANZI}</p>
</body></html>"""


class TestFonts:
    def test_chinese_text_renders_with_embedded_subset_noto_cjk_fonts(self):
        pdf = render_pdf(page("<h1>开票信息确认单</h1><p>购买方：上海某某网络科技有限公司</p>"))

        assert "开票信息确认单" in text_of(pdf)
        assert "上海某某网络科技有限公司" in text_of(pdf)
        fonts = {name: program.get_data() for name, (_, program) in embedded_fonts(pdf).items()}
        names = {name.split("+", 1)[1] for name in fonts}
        assert names == {"Noto-Serif-CJK-SC-Bold", "Noto-Sans-CJK-SC"}  # real bold, not synthetic
        # Subset ("ABCDEF+" prefix), a few KB for a few glyphs (the system fonts: 16-25 MB).
        assert all("+" in name for name in fonts)
        assert all(len(data) < 20_000 for data in fonts.values())

    def test_fonts_are_bare_cid_keyed_cff_with_only_the_glyphs_used(self):
        pdf = render_pdf(DOCUMENT)

        fonts = embedded_fonts(pdf)
        assert {name.split("+", 1)[1] for name in fonts} == {"Noto-Sans-CJK-SC", "Noto-Sans-CJK-SC-Bold"}
        for cid_font, program in fonts.values():
            assert cid_font["/Subtype"] == "/CIDFontType0"
            assert program["/Subtype"] == "/CIDFontType0C"  # not /OpenType: see invoicing/pdf.py
            font = cff_font(program.get_data())
            assert font.ROS[:2] == ("Adobe", "Identity")
            # Glyph n is named after its CID, the code the content stream shows.
            cids = {int(name[3:]) for name in font.charset[1:]}
            assert font.charset[0] == ".notdef"
            assert cids == widths_keys(cid_font) - {0}
            assert len(font.CharStrings) == len(font.charset)

    def test_one_page_chinese_document_is_under_150_kb(self):
        pdf = render_pdf(DOCUMENT)

        assert len(read(pdf).pages) == 1
        assert len(pdf) < 150 * 1024
        assert len(pdf) < 80 * 1024  # measured ~47 KB; as WeasyPrint embeds the fonts, ~300 KB

    def test_text_extracts_with_pypdf_and_pdfium(self):
        pdf = render_pdf(DOCUMENT)

        pdfium_text, _ = pdfium_page(pdf)
        for text in (text_of(pdf), pdfium_text):
            flat = "".join(text.split())
            assert "上海百胜软件股份有限公司" in flat
            assert "价税合计（大写）" in flat
            assert HANZI[:40] in flat

    def test_pdfium_draws_the_same_glyphs_as_with_weasyprints_fonts(self, monkeypatch):
        """The regression a renumbered OpenType subset had: Chrome drew other glyphs."""
        compact = render_pdf(DOCUMENT)
        monkeypatch.setattr(pdf_module, "compact_cff_fonts", None)
        original = render_pdf(DOCUMENT)
        assert len(original) > 3 * len(compact)

        _, compact_image = pdfium_page(compact)
        _, original_image = pdfium_page(original)
        histogram = ImageChops.difference(compact_image, original_image).histogram()
        # Only anti-aliasing may differ (measured: at most 17 of 255 levels); a wrong
        # glyph differs by ~240 levels over thousands of pixels.
        assert sum(histogram[48:]) == 0
        assert compact_image.getextrema()[0] < 64  # text was drawn at all

    def test_subset_program_keeps_each_glyph_under_its_cid(self, monkeypatch):
        monkeypatch.setattr(pdf_module, "compact_cff_fonts", None)
        fonts = embedded_fonts(render_pdf(DOCUMENT))
        cid_font, program = next(font for name, font in fonts.items() if name.endswith("+Noto-Sans-CJK-SC"))
        otf = program.get_data()
        original = TTFont(io.BytesIO(otf))["CFF "].cff
        original = original[original.fontNames[0]]
        used = sorted(widths_keys(cid_font))[:30]

        subset = cff_font(cid_cff_subset(otf, used + [70_000]))  # a CID the font lacks is dropped

        assert subset.charset == [".notdef"] + [f"cid{cid:05d}" for cid in used if cid]
        for name in subset.charset:
            assert subset.CharStrings[name].bytecode == original.CharStrings[name].bytecode
            fd = subset.FDArray[subset.FDSelect[subset.charset.index(name)]]
            original_fd = original.FDArray[original.FDSelect[original.charset.index(name)]]
            assert fd.FontName == original_fd.FontName
            assert fd.Private.rawDict == original_fd.Private.rawDict

    def test_a_font_program_it_does_not_know_is_refused(self):
        with pytest.raises(CFFNotHandled):
            cid_cff_subset(b"\x00\x01\x00\x00" + bytes(100), {1, 2})  # TrueType


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


class TestReuse:
    """What render_pdf keeps between documents: each glyph's outline (FaceGlyphs), the font
    configuration and the parsed stylesheets (see invoicing/pdf.py)."""

    def test_a_glyph_outline_is_made_once_per_process(self, monkeypatch):
        render_pdf(DOCUMENT)
        subset = pdf_module._harfbuzz_subset
        asked = []
        monkeypatch.setattr(pdf_module, "_harfbuzz_subset", lambda font, gids: asked.append(gids) or subset(font, gids))

        again = render_pdf(DOCUMENT)
        assert asked == []  # every glyph known: HarfBuzz not called
        render_pdf(page("<p>饕餮</p>"))  # two characters DOCUMENT does not have
        assert [len(gids) for gids in asked] == [2]
        assert text_of(again) == text_of(render_pdf(DOCUMENT))

    def test_outlines_are_those_of_weasyprints_own_subset(self, monkeypatch):
        fast = embedded_fonts(render_pdf(DOCUMENT))
        monkeypatch.setattr(pdf_module, "compact_cff_fonts", None)
        slow = embedded_fonts(render_pdf(DOCUMENT))  # WeasyPrint's two HarfBuzz passes, as OpenType

        for name, (cid_font, program) in fast.items():
            original = TTFont(io.BytesIO(slow[name][1].get_data()))["CFF "].cff
            original = original[original.fontNames[0]]
            compact = cff_font(program.get_data())
            assert {int(glyph[3:]) for glyph in compact.charset[1:]} == widths_keys(cid_font) - {0}
            for glyph in compact.charset:
                ours, theirs = compact.CharStrings[glyph], original.CharStrings[glyph]
                ours.decompile()
                theirs.decompile()
                assert ours.program == theirs.program, glyph

    def test_a_changed_stylesheet_is_read_again(self, settings, tmp_path):
        directory = tmp_path / "static"
        (directory / "css").mkdir(parents=True)
        sheet = directory / "css" / "sheet.css"
        settings.STATICFILES_DIRS = [directory]

        sheet.write_text("@page { size: A5; }")
        a5 = read(render_pdf("<p>x</p>", stylesheets=["css/sheet.css"])).pages[0].mediabox
        sheet.write_text("@page { size: A4 landscape; }")
        a4 = read(render_pdf("<p>x</p>", stylesheets=["css/sheet.css"])).pages[0].mediabox

        assert round(a5.width) == 420 and round(a4.width) == 842

    def test_a_stylesheet_outside_the_static_files_is_refused(self):
        with pytest.raises(ResourceRefused):
            render_pdf("<p>x</p>", stylesheets=["../settings.py"])
