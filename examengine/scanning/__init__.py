"""Reading scanned or photographed answer sheets (OpenCV, pypdfium2): pages from files, the
sheet found by its corner marks and rectified, the QR code decoded, the bubbles measured.
An adapter like ``rendering``: the sheet's geometry comes from ``exam.sheet_layout``, the
interpretation of a row's darkness from ``exam.marks``."""
