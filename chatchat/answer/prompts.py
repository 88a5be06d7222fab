"""Every prompt the assistant sends, in Chinese and English, in one place to edit.

The language follows the question: mostly Chinese characters → zh, else en.
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en"]

PROMPTS: dict[Language, dict[str, str]] = {
    "en": {
        "chat_system": "You are Chatchat, a helpful assistant. Answer clearly and concisely.",
        "kb_system": (
            "You answer questions using only the numbered passages from the user's documents. "
            "If the passages do not contain the answer, say that the documents do not cover it; "
            "never make anything up. End each sentence with the number of the passage it comes from in "
            "square brackets, like this: The leave lasts ten days [2]. Answer in English."
        ),
        "kb_user": "Passages:\n\n{passages}\n\nQuestion: {question}",
        "passage": "[{index}] ({where})\n{text}",
        "where_page": "{file}, page {page}",
        "nothing_found": (
            "I found nothing in the knowledge base “{kb}” that answers this, so I cannot answer "
            "from your documents. Try other words, or add documents that cover it."
        ),
        "nothing_found_files": (
            "I found nothing in {files} that answers this, so I cannot answer from these files. "
            "Try other words, or attach a file that covers it."
        ),
        "not_covered": (
            "The knowledge base does not cover this: nothing in “{kb}” is close enough to the question, so I "
            "will not answer from it. The nearest passages are listed below in case they help."
        ),
        "rewrite_system": (
            "You rewrite the user's last question so that it can be understood without the conversation: "
            "replace words like it, they, that, the second one with what they refer to. Keep the question's "
            "language and meaning. Do not answer it. Reply with the rewritten question only, on one line."
        ),
        "rewrite_user": (
            "Example:\nUser: What are the two kinds of memory?\nAssistant: Short-term and long-term memory.\n"
            "Last question: How long does the second one last?\nRewritten: How long does long-term memory last?\n\n"
            "Conversation:\n{history}\nLast question: {question}\nRewritten:"
        ),
        "role_user": "User",
        "role_assistant": "Assistant",
    },
    "zh": {
        "chat_system": "你是 Chatchat，一个乐于助人的助手。请用中文清晰、简洁地回答。",
        "kb_system": (
            "请只根据用户文档中带编号的已知信息回答问题。如果已知信息中没有答案，请说明文档中没有相关内容，"
            "不允许编造。每句话末尾用方括号标出它所依据的信息编号，例如：年假为十天[2]。请使用中文回答。"
        ),
        "kb_user": "已知信息：\n\n{passages}\n\n问题：{question}",
        "passage": "[{index}]（{where}）\n{text}",
        "where_page": "{file}，第 {page} 页",
        "nothing_found": "在知识库「{kb}」中没有找到与这个问题相关的内容，所以无法根据文档回答。请换个说法，或添加相关文档。",
        "nothing_found_files": "在文件 {files} 中没有找到与这个问题相关的内容，所以无法根据这些文件回答。请换个说法，或添加相关文件。",
        "not_covered": "知识库中没有涉及这个问题的内容：「{kb}」里没有与问题足够接近的段落，所以不根据它作答。下面列出最接近的几段，供参考。",
        "rewrite_system": (
            "请把用户的最后一个问题改写成不看对话也能理解的独立问题：把“它”“他们”“那个”“第二种”等指代词换成所指的内容。"
            "保持问题的语言和原意，不要回答问题。只输出改写后的问题，写在一行里。"
        ),
        "rewrite_user": (
            "示例：\n用户：记忆分为哪两种？\n助手：短期记忆和长期记忆。\n最后的问题：第二种能保持多久？\n"
            "改写：长期记忆能保持多久？\n\n对话：\n{history}\n最后的问题：{question}\n改写："
        ),
        "role_user": "用户",
        "role_assistant": "助手",
    },
}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> Language:
    """zh when Han characters carry the text (each stands for about a word: 3 Latin letters)."""
    han = len(_HAN.findall(text))
    return "zh" if han and han * 3 >= len(_LATIN.findall(text)) else "en"


def passage(lang: Language, index: int, file: str, page: int | None, text: str) -> str:
    where = PROMPTS[lang]["where_page"].format(file=file, page=page) if page is not None else file
    return PROMPTS[lang]["passage"].format(index=index, where=where, text=text)


def kb_user(lang: Language, question: str, passages: list[str]) -> str:
    return PROMPTS[lang]["kb_user"].format(passages="\n\n".join(passages), question=question)


def text(lang: Language, name: str, **values: str) -> str:
    return PROMPTS[lang][name].format(**values)
