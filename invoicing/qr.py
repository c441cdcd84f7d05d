"""QR codes for documents, as SVG data: URIs (vector, no file, accepted by the PDF
URL fetcher)."""

import segno


def qr_data_uri(text: str, *, scale: int = 4) -> str:
    """A QR code of `text` (e.g. a contract's verification URL), error correction M."""
    return segno.make(text, error="m", micro=False).svg_data_uri(scale=scale, border=2)
