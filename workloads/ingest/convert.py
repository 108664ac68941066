"""Docling conversion: pick the PDF pipeline, check each file before converting it, decode text files, convert.

Runs in the conversion worker process (convert_worker.py), except ``detect_pdf_mode``, which the main
process uses for the pipeline fingerprint without importing Docling.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
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
# Folders `docling-tools models download layout tableformer` writes. The layout one is Docling's
# LayoutObjectDetectionOptions().model_spec.repo_id with "/" -> "--" (a test checks it); spelled out here so the
# main process need not import Docling (9 s) to tell which PDF pipeline a run uses.
LAYOUT_MODEL_FOLDER = "docling-project--docling-layout-heron"
TABLE_MODEL_FOLDER = "docling-project--docling-models"
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # password-protected (or pre-2007) Office files
_DECLARED_CHARSET = re.compile(
    rb"""(?:<meta[^>]+charset\s*=\s*["']?|<\?xml[^>]+encoding\s*=\s*["'])([A-Za-z0-9._:-]+)""", re.I
)
# Unlabelled Western European text reads the same in several single-byte code pages; windows-1252 is the
# web's default for unlabelled documents (WHATWG Encoding Standard), so it wins a near tie.
_PREFERRED_GUESS = "cp1252"
_NEAR_TIE = 0.05


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


def has_pdf_models(folder: Path) -> bool:
    """True when folder holds the layout and table models in the layout `docling-tools` writes."""
    layout, tables = folder / LAYOUT_MODEL_FOLDER, folder / TABLE_MODEL_FOLDER
    return layout.is_dir() and any(layout.iterdir()) and tables.is_dir() and any(tables.iterdir())


class PdfModelsMissing(Exception):
    """--docling-artifacts names a folder without the models."""


def detect_pdf_mode(explicit: Path | None) -> PdfMode:
    """Use the standard PDF pipeline when its models are on disk; else fall back to the native one.

    An explicit --docling-artifacts folder must hold the models. Otherwise DOCLING_ARTIFACTS_PATH
    and Docling's default download folder are looked at, and their absence is only a warning.
    """
    if explicit is not None:
        if not has_pdf_models(explicit):
            raise PdfModelsMissing(
                f"--docling-artifacts {explicit} does not hold Docling's layout and table models "
                f"({LAYOUT_MODEL_FOLDER}, {TABLE_MODEL_FOLDER}); run "
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


def check_file(file: SourceFile, head: bytes) -> None:
    """Reject files Docling would fail on, with a reason a person can act on. Cheap: no parsing."""
    if not file.supported:
        known = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise BadDocument(f"unsupported extension {file.extension or '(none)'!r}; supported: {known}")
    if file.size == 0:
        raise BadDocument("empty file (0 bytes)")
    kind = file.kind
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


def _check_pdf(path: Path, head: bytes) -> int:
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
        pages = len(pdf)
        if pages == 0:
            raise BadDocument("PDF has no pages")
        return pages
    finally:
        pdf.close()


def decode_text(data: bytes, kind: str) -> tuple[str, str | None]:
    """The text of an HTML or Markdown file, and a warning when its encoding had to be guessed.

    UTF-8 (or a byte-order mark) is taken as is; then a charset the HTML declares; otherwise
    charset-normalizer (already a dependency of the job through requests) guesses, and the guess is reported.
    """
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if data.startswith(bom):
            try:
                return data.decode(name), None
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    declared_problem = ""
    if kind == "html" and (match := _DECLARED_CHARSET.search(data[:4096])):
        declared = match.group(1).decode("ascii", "replace")
        try:
            return data.decode(declared), None
        except LookupError:
            declared_problem = f"its declared charset {declared!r} is unknown; "
        except UnicodeDecodeError:
            declared_problem = f"its declared charset {declared!r} does not fit its bytes; "
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise BadDocument("not text in any known character encoding (a binary file with a text extension?)")
    best = matches[0]
    guess = next((m for m in matches if m.encoding == _PREFERRED_GUESS and m.chaos <= best.chaos + _NEAR_TIE), best)
    text = str(guess)
    language = f", {guess.language}" if guess.language and guess.language != "Unknown" else ""
    return text, (
        f"{declared_problem}not UTF-8 and no usable charset declared: decoded as {guess.encoding} "
        f"(guessed{language}); declare the charset or save the file as UTF-8 to be sure"
    )


def _read_head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(1024)


ProgressFn = Callable[[str], None]


def convert_file(
    converter: DocumentConverter, file: SourceFile, progress: ProgressFn | None = None
) -> tuple[DoclingDocument, list[str]]:
    """Convert one file, or raise BadDocument with the reason. Returns the document and warnings."""
    from docling.datamodel.base_models import ConversionStatus
    from docling_core.types.io import DocumentStream

    try:
        head = _read_head(file.path)
    except OSError as err:
        from workloads.ingest.discover import describe_os_error

        raise BadDocument(f"cannot read: {describe_os_error(err)}") from None
    check_file(file, head)
    warnings: list[str] = []
    source: Path | DocumentStream = file.path
    if file.kind in ("html", "md"):
        text, warning = decode_text(file.path.read_bytes(), str(file.kind))
        if warning:
            warnings.append(warning)
        if not text.strip():
            raise BadDocument("empty file (only whitespace)")
        data = text.encode("utf-8")
        if file.kind == "html":
            data = codecs.BOM_UTF8 + data  # a byte-order mark outranks any charset the page declares
        source = DocumentStream(name=file.path.name, stream=BytesIO(data))
    callback = _progress_callback(progress) if progress else None
    try:
        result = converter.convert(source, raises_on_error=False, progress_callback=callback)
    except Exception as err:  # Docling raises several types for unreadable input
        raise BadDocument(f"conversion failed: {type(err).__name__}: {_one_line(err)}") from err
    messages = "; ".join(_one_line(e.error_message) for e in result.errors)
    if result.status == ConversionStatus.PARTIAL_SUCCESS:
        warnings.append(f"converted in part: {messages or 'no details from Docling'}")
    elif result.status != ConversionStatus.SUCCESS:
        raise BadDocument(f"conversion {result.status.value}: {messages or 'no details from Docling'}")
    return result.document, warnings


def _one_line(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _progress_callback(progress: ProgressFn) -> Callable[[object], None]:
    from docling.datamodel.progress import ConversionProgressKind

    def on_event(event: object) -> None:
        kind = getattr(event, "kind", None)
        if kind == ConversionProgressKind.PAGE_COMPLETED:
            progress(f"page {event.completed_pages}/{event.total_pages} converted")  # type: ignore[attr-defined]
        elif kind == ConversionProgressKind.PHASE_STARTED:
            progress(f"{event.phase.value} phase")  # type: ignore[attr-defined]

    return on_event


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
