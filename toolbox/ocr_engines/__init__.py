"""OCR engine plugins (`@register_ocr_engine`) and the runner that caches and pools them."""
