"""Docling conversion: pick the PDF pipeline, check each file before converting it, convert it."""

from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workloads.ingest.discover import SUPPORTED_EXTENSIONS, SourceFile
from workloads.ingest.torch_compat import hide_broken_torchvision

if TYPE_CHECKING:
    from docling.document_converter import DocumentConverter
    from docling_core.types.doc import DoclingDocument

log = logging.getLogger(__name__)

# Where `docling-tools models download` puts the models when given no --output-dir.
DEFAULT_ARTIFACTS = Path.home() / ".cache" / "docling" / "models"
_TABLE_MODEL_FOLDER = "docling-project--docling-models"  # TableFormer, as laid out by docling-tools
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # password-protected (or pre-2007) Office files


class BadDocument(Exception):
    """A file that cannot be ingested; the message is the reason shown in the summary."""


@dataclass(frozen=True)
class PdfMode:
    """Which PDF pipeline is used: the standard one (layout + table models) or the model-free one."""

    artifacts: Path | None

    @property
    def native(self) -> bool:
        return self.artifacts is None

    def describe(self) -> str:
        if self.native:
            return "native (model-free: text lines, no layout or table structure)"
        return f"standard (layout and table models from {self.artifacts})"


def _layout_folder() -> str:
    hide_broken_torchvision()  # before Docling imports transformers
    from docling.datamodel.pipeline_options import LayoutObjectDetectionOptions

    return LayoutObjectDetectionOptions().model_spec.repo_id.replace("/", "--")


def has_pdf_models(folder: Path) -> bool:
    """True when folder holds the layout and table models in the layout `docling-tools` writes."""
    layout, tables = folder / _layout_folder(), folder / _TABLE_MODEL_FOLDER
    return layout.is_dir() and any(layout.iterdir()) and tables.is_dir() and any(tables.iterdir())


def detect_pdf_mode(explicit: Path | None) -> PdfMode:
    """Use the standard PDF pipeline when its models are on disk; else fall back to the native one.

    An explicit --docling-artifacts folder must hold the models. Otherwise DOCLING_ARTIFACTS_PATH
    and Docling's default download folder are looked at, and their absence is only a warning.
    """
    if explicit is not None:
        if not has_pdf_models(explicit):
            raise SystemExit(
                f"error: --docling-artifacts {explicit} does not hold Docling's layout and table models "
                f"({_layout_folder()}, {_TABLE_MODEL_FOLDER}); run "
                f"`docling-tools models download -o {explicit}` or leave the option out to use the "
                "model-free PDF pipeline"
            )
        return PdfMode(explicit)
    candidates = [Path(p) for p in [os.environ.get("DOCLING_ARTIFACTS_PATH")] if p] + [DEFAULT_ARTIFACTS]
    for folder in candidates:
        if has_pdf_models(folder):
            return PdfMode(folder)
    log.warning(
        "Docling's PDF models were not found (looked in %s): PDFs use the model-free native pipeline "
        "(text lines, no layout or tables). Run `docling-tools models download` to get them.",
        ", ".join(str(c) for c in candidates),
    )
    return PdfMode(None)


def build_converter(mode: PdfMode) -> DocumentConverter:
    hide_broken_torchvision()
    from docling.datamodel.base_models import InputFormat
    from docling.datamodel.pipeline_options import NativePdfPipelineOptions, PdfPipelineOptions
    from docling.document_converter import DocumentConverter, NativePdfFormatOption, PdfFormatOption

    if mode.native:
        pdf_option: PdfFormatOption = NativePdfFormatOption(
            pipeline_options=NativePdfPipelineOptions(generate_page_images=False, generate_picture_images=False)
        )
    else:
        # OCR is off: its models are not needed for born-digital PDFs, and a scanned PDF is reported
        # as "no text extracted" rather than silently producing OCR noise.
        pdf_option = PdfFormatOption(
            pipeline_options=PdfPipelineOptions(artifacts_path=mode.artifacts, do_ocr=False, do_table_structure=True)
        )
    formats = [InputFormat.PDF, InputFormat.DOCX, InputFormat.PPTX, InputFormat.HTML, InputFormat.MD]
    return DocumentConverter(allowed_formats=formats, format_options={InputFormat.PDF: pdf_option})


def check_file(file: SourceFile) -> None:
    """Reject files Docling would fail on, with a reason a person can act on. Cheap: no parsing."""
    if not file.supported:
        known = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise BadDocument(f"unsupported extension {file.extension or '(none)'!r}; supported: {known}")
    if file.size == 0:
        raise BadDocument("empty file (0 bytes)")
    head = file.path.read_bytes()[:1024] if file.size < 1 << 20 else _read_head(file.path)
    kind = SUPPORTED_EXTENSIONS[file.extension]
    if kind == "pdf":
        _check_pdf(file.path, head)
    elif kind in ("docx", "pptx"):
        if head.startswith(_OLE_MAGIC):
            raise BadDocument(
                f"password-protected (encrypted) or legacy binary Office file: save it as an unprotected .{kind}"
            )
        if not zipfile.is_zipfile(file.path):
            raise BadDocument(f"corrupt .{kind}: not a valid Office Open XML (zip) file")
    elif not head.strip():
        raise BadDocument("empty file (only whitespace)")


def _read_head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(1024)


def _check_pdf(path: Path, head: bytes) -> None:
    import pypdfium2

    if b"%PDF-" not in head:
        raise BadDocument("corrupt PDF: no %PDF- header (not a PDF, or truncated)")
    try:
        pdf = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as err:
        if "password" in str(err).lower():
            raise BadDocument(
                "encrypted PDF (a password is required to open it): decrypt it, e.g. "
                "`qpdf --decrypt --password=... in.pdf out.pdf`"
            ) from err
        raise BadDocument(f"corrupt PDF: {err}") from err
    try:
        if len(pdf) == 0:
            raise BadDocument("PDF has no pages")
    finally:
        pdf.close()


def convert_file(converter: DocumentConverter, file: SourceFile) -> DoclingDocument:
    """Convert one checked file, or raise BadDocument with the reason."""
    from docling.datamodel.base_models import ConversionStatus

    check_file(file)
    try:
        result = converter.convert(file.path, raises_on_error=False)
    except Exception as err:  # Docling raises several types for unreadable input
        raise BadDocument(f"conversion failed: {type(err).__name__}: {err}") from err
    messages = "; ".join(e.error_message for e in result.errors)
    if result.status == ConversionStatus.PARTIAL_SUCCESS:
        log.warning("%s: converted in part: %s", file.source, messages or "no details")
    elif result.status != ConversionStatus.SUCCESS:
        raise BadDocument(f"conversion {result.status.value}: {messages or 'no details from Docling'}")
    return result.document


def document_title(doc: DoclingDocument, file: SourceFile) -> str:
    """The title item, else the first section header, else the PDF's metadata title, else the file stem."""
    from docling_core.types.doc import DocItemLabel

    first_header = None
    for item in doc.texts:
        if item.label == DocItemLabel.TITLE and item.text.strip():
            return item.text.strip()
        if first_header is None and item.label == DocItemLabel.SECTION_HEADER and item.text.strip():
            first_header = item.text.strip()
    return first_header or (_pdf_metadata_title(file.path) if file.extension == ".pdf" else "") or file.path.stem


def _pdf_metadata_title(path: Path) -> str:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(path)
    try:
        return str(pdf.get_metadata_dict().get("Title", "")).strip()
    finally:
        pdf.close()
