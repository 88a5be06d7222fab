"""Why a file could not be added (chatchat/ingest), as the UI shows it: key -> (English, 中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    # names and the way to the file
    "error.ingest_name_unusable": ("'{name}' is not a usable file name.", "“{name}”不是可用的文件名。"),
    "error.ingest_name_invalid": (
        "'{name}' is not a document name: names hold no '..', absolute paths or control characters.",
        "“{name}”不是有效的文档名：名称中不能有“..”、绝对路径或控制字符。",
    ),
    "error.ingest_original_link": (
        "The original of '{name}' goes through a link ({link}); links are never followed.",
        "“{name}”的原件路径经过链接（{link}）；链接一律不跟随。",
    ),
    "error.ingest_link_outside": (
        "'{name}' in the knowledge base's folder is a link to a file outside it; links are not followed. "
        "Add the file itself.",
        "知识库文件夹中的“{name}”是指向外部文件的链接，链接不会被跟随。请直接添加该文件本身。",
    ),
    "error.ingest_not_a_file": ("'{name}' is not a readable file.", "“{name}”不是可读取的文件。"),
    "error.ingest_unreadable": ("{name} cannot be read: {detail}.", "无法读取 {name}：{detail}。"),
    # type and size
    "error.ingest_no_extension": (
        "{name}: files without an extension are not supported. Supported types: {supported}.",
        "{name}：不支持没有扩展名的文件。支持的类型：{supported}。",
    ),
    "error.ingest_zip": (
        "{name}: files of type .zip are not supported (unpack the archive and add the files inside). "
        "Supported types: {supported}.",
        "{name}：不支持 .zip 文件（请解压后添加其中的文件）。支持的类型：{supported}。",
    ),
    "error.ingest_unsupported_type": (
        "{name}: files of type {ext} are not supported. Supported types: {supported}.",
        "{name}：不支持 {ext} 类型的文件。支持的类型：{supported}。",
    ),
    "error.ingest_not_a_document": (
        "{name} is {kind}, not {wanted} (its extension is {ext}). {advice}",
        "{name} 实际是{kind}，不是{wanted}（扩展名为 {ext}）。{advice}",
    ),
    "error.ingest_wrong_extension": (
        "{name} has the extension {ext}, which means {wanted}, but its content is {kind}. "
        "Give it the right extension (or export it again) and add it again.",
        "{name} 的扩展名 {ext} 表示{wanted}，但内容是{kind}。请改用正确的扩展名（或重新导出）后再添加。",
    ),
    "error.ingest_empty": (
        "{name} is empty (0 bytes): there is nothing to add. Check that it was saved or uploaded completely.",
        "{name} 是空文件（0 字节），没有可添加的内容。请检查它是否已完整保存或上传。",
    ),
    "error.ingest_upload_too_large": (
        "'{name}' is {mb} MB; the limit is {limit} MB (setting max_upload_mb).",
        "“{name}”有 {mb} MB，上限是 {limit} MB（设置项 max_upload_mb）。",
    ),
    "error.ingest_over_type_limit": (
        "{name} is {mb} MB, over the {limit} MB limit for one {ext} document. Split it into smaller files and add those.",
        "{name} 有 {mb} MB，超过单个 {ext} 文档 {limit} MB 的上限。请拆分成较小的文件后再添加。",
    ),
    "error.ingest_markup_too_large": (
        "{name} holds {mb} MB of document text and markup, over the {limit} MB that can be read at once. "
        "Split it into smaller files and add those.",
        "{name} 含有 {mb} MB 的文档文字和标记，超过一次可读取的 {limit} MB。请拆分成较小的文件后再添加。",
    ),
    "error.ingest_zip_bomb": (
        "{name} was not opened: it would unpack to {unpacked} MB in {parts} parts from {packed} MB on disk, which "
        "looks like a zip bomb. If the document is genuine, save a smaller copy (fewer or compressed images) and add that.",
        "未打开 {name}：它在磁盘上只有 {packed} MB，却会解压成 {parts} 个部分、共 {unpacked} MB，像是 zip 炸弹。"
        "如果文档确实无误，请另存一个较小的副本（减少或压缩图片）后再添加。",
    ),
    # damaged, protected, wrongly encoded
    "error.ingest_damaged": (
        "{name} could not be read ({reason}). It may be damaged or not really a {ext} file: check that it opens in "
        "its own application, re-save it there and add it again.",
        "无法读取 {name}（{reason}）。它可能已损坏，或并不是真正的 {ext} 文件：请确认它能在自己的应用中打开，"
        "在那里另存后重新添加。",
    ),
    "error.ingest_zip_damaged": (
        "{name} is damaged: its zip container cannot be read ({detail}). Open and re-save it in its application, "
        "then add it again.",
        "{name} 已损坏：无法读取其 zip 容器（{detail}）。请在其应用中打开并另存，然后重新添加。",
    ),
    "error.ingest_office_password": (
        "{name} is password-protected. Remove the password in its application and add it again.",
        "{name} 受密码保护。请在其应用中去掉密码后重新添加。",
    ),
    "error.ingest_needs_libreoffice": (
        "{name} is in the old {old} format: reading it needs LibreOffice, which is not installed. Install "
        "LibreOffice (Debian/Ubuntu: `apt install libreoffice-writer-nogui libreoffice-impress-nogui`), or save "
        "the file in the newer format ({newer}) and add that.",
        "{name} 是旧的 {old} 格式：读取它需要 LibreOffice，但未安装。请安装 LibreOffice（Debian/Ubuntu："
        "`apt install libreoffice-writer-nogui libreoffice-impress-nogui`），或将文件另存为新格式（{newer}）后再添加。",
    ),
    "error.ingest_bad_bom": (
        "{name} starts with a {encoding} byte-order mark but is not valid {encoding} ({reason} at byte {byte}); "
        "re-save it as UTF-8.",
        "{name} 以 {encoding} 字节顺序标记开头，但内容不是有效的 {encoding}（第 {byte} 字节：{reason}）；请另存为 UTF-8。",
    ),
    "error.ingest_unknown_encoding": (
        "{name} does not look like a text file: its encoding could not be recognised. If it is text, re-save it "
        "as UTF-8; otherwise check that the extension is right.",
        "{name} 看起来不是文本文件：无法识别其编码。如果它是文本，请另存为 UTF-8；否则请检查扩展名是否正确。",
    ),
    # no text in it
    "error.ingest_whitespace": (
        "{name} contains only whitespace: there is no text to add.", "{name} 只有空白字符，没有可添加的文字。"
    ),
    "error.ingest_no_text": (
        "No text found in {name}: it is empty, or holds only pictures without readable text.",
        "{name} 中没有找到文字：它是空的，或只有认不出文字的图片。",
    ),
    "error.ingest_no_text_ocr_off": (
        "No text found in {name}: it is empty, or holds only pictures without readable text (OCR is turned off).",
        "{name} 中没有找到文字：它是空的，或只有认不出文字的图片（OCR 已关闭）。",
    ),
    "error.ingest_no_chunks": (
        "'{name}' contains no text to index (empty, only whitespace, or images without text).",
        "“{name}”没有可索引的文字（空文件、只有空白，或只有不含文字的图片）。",
    ),
    # images and scans
    "error.ingest_image_ocr_off": (
        "{name} is an image: its text can only be read with OCR, which is turned off.",
        "{name} 是图片：只有用 OCR 才能读出其中的文字，而 OCR 已关闭。",
    ),
    "error.ingest_ocr_missing": (
        "Reading the text of {name} needs OCR, and the OCR engine is not installed: run "
        "`pip install 'chatchat[ocr]'` (rapidocr-onnxruntime) and add the file again.",
        "读取 {name} 的文字需要 OCR，但未安装 OCR 引擎：请运行 `pip install 'chatchat[ocr]'`（rapidocr-onnxruntime），"
        "然后重新添加该文件。",
    ),
    "error.ingest_image_unreadable": (
        "The image in {name} cannot be read ({detail}); re-save it as PNG or JPEG.",
        "{name} 中的图片无法读取（{detail}）；请另存为 PNG 或 JPEG。",
    ),
    # PDF
    "error.ingest_pdf_garbled": (
        "{name} has an unreadable text layer (fonts without a Unicode map). Turn OCR on to read it as images.",
        "{name} 的文字层无法读取（字体没有 Unicode 映射）。请打开 OCR，把它当作图片来读。",
    ),
    "error.ingest_pdf_scan": (
        "{name} has no text layer (it looks like a scan). Turn OCR on to read it as images.",
        "{name} 没有文字层（看起来是扫描件）。请打开 OCR，把它当作图片来读。",
    ),
    "error.ingest_pdf_password": (
        "{name} is password-protected. Remove the password (e.g. print it to a new PDF) and add it again.",
        "{name} 受密码保护。请去掉密码（例如打印成新的 PDF）后重新添加。",
    ),
    "error.ingest_pdf_damaged": (
        "{name} is damaged or truncated and cannot be opened as a PDF ({detail}). Download or export it again and "
        "add the complete file.",
        "{name} 已损坏或不完整，无法作为 PDF 打开（{detail}）。请重新下载或导出，再添加完整的文件。",
    ),
    "error.ingest_pdf_page_damaged": (
        "Page {page} of {name} is damaged and cannot be read ({detail}).",
        "{name} 的第 {page} 页已损坏，无法读取（{detail}）。",
    ),
    # structured text, mail, notes, saved pages
    "error.ingest_json_invalid": (
        "{name} is not valid JSON ({detail}); it may be truncated. Fix or re-export it and add it again.",
        "{name} 不是有效的 JSON（{detail}），可能不完整。请修正或重新导出后再添加。",
    ),
    "error.ingest_jsonl_line_invalid": (
        "Line {line} of {name} is not valid JSON ({detail}); each line of a JSON Lines file must be one JSON value.",
        "{name} 的第 {line} 行不是有效的 JSON（{detail}）；JSON Lines 文件的每一行必须是一个 JSON 值。",
    ),
    "error.ingest_toml_invalid": (
        "{name} is not valid TOML ({detail}). Fix it and add it again.",
        "{name} 不是有效的 TOML（{detail}）。请修正后再添加。",
    ),
    "error.ingest_notebook_no_cells": (
        "{name} is JSON but not a Jupyter notebook (it has no list of cells).",
        "{name} 是 JSON，但不是 Jupyter 笔记本（没有 cells 列表）。",
    ),
    "error.ingest_msg_unreadable": (
        "{name} is not a readable Outlook message ({detail}).", "{name} 不是可读取的 Outlook 邮件（{detail}）。"
    ),
    "error.ingest_enex_invalid": (
        "{name} is not a valid Evernote export ({detail}).", "{name} 不是有效的印象笔记（Evernote）导出文件（{detail}）。"
    ),
    "error.ingest_enex_no_notes": (
        "{name} contains no Evernote notes (no <note> elements).", "{name} 中没有印象笔记（Evernote）笔记（没有 <note> 元素）。"
    ),
    "error.ingest_mhtml_part_encoding": (
        "A part of {name} has an unreadable text encoding ({detail}).", "{name} 中有一部分的文字编码无法读取（{detail}）。"
    ),
    "error.ingest_mhtml_no_text": (
        "{name} holds no HTML or text part; is it really a saved web page (MHTML)?",
        "{name} 中没有 HTML 或文本部分；它真的是保存下来的网页（MHTML）吗？",
    ),
    # the job
    "error.ingest_library_error": (
        "Reading failed: {error}. If the file opens in its own application, please report this with the file.",
        "读取失败：{error}。如果该文件能在自己的应用中正常打开，请连同文件一起报告此问题。",
    ),
    "error.ingest_cancelled": ("cancelled; nothing of this file was stored", "已取消，此文件的内容都没有存入"),
    "error.ingest_cancelled_before_start": ("cancelled before it started", "开始前已取消"),
    "error.ingest_interrupted": (
        "interrupted: the app stopped during ingest; add the file again",
        "已中断：入库过程中应用停止了，请重新添加该文件",
    ),
}
