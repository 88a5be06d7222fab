"""Feedback on the Chat tab's answers: the chatbot's thumbs up and down are kept with the answer
(chatchat.answer.feedback), and a bar under the chat takes an optional reason and can turn the question,
with the answer a person expects, into a row of the knowledge base's test set (chatchat.evaluation).
The bar opens on a thumb, or on a click on an answer."""

from __future__ import annotations

import re

import gradio as gr

from chatchat.answer.conversations import ChatMessage, Conversation
from chatchat.answer.feedback import rate_answer, rating_of, score_of
from chatchat.errors import ChatchatError, InvalidName
from chatchat.evaluation.runs import testset_of
from chatchat.evaluation.testset import Item
from chatchat.policy import Caller
from chatchat.ui.chat_views import rows
from chatchat.ui.common import caller_of, guarded, info
from chatchat.ui.i18n import t, tr
from chatchat.ui.page import bump

_MARKERS = re.compile(r" ?\[\d{1,4}\]")


def answer_index(conversation: Conversation, shown: int | list, lang: str) -> int:
    """The stored index of the answer that chatbot message `shown` belongs to (its text or its sources)."""
    drawn = rows(conversation, lang)
    shown = shown if isinstance(shown, int) else shown[0]
    if not 0 <= shown < len(drawn) or drawn[shown][1].role != "assistant":
        raise InvalidName(t("feedback.not_an_answer", lang))
    message = drawn[shown][1]
    return next(i for i, m in enumerate(conversation.messages) if m.id == message.id)


def test_set_kb(services, message: ChatMessage, caller: Caller) -> str | None:
    """The knowledge base whose test set the answer's question may join: that of its first source, when
    it is a person's own (not a file chat's) and the caller may change it."""
    for source in message.sources:
        try:
            if not services.kb_info(source["kb"]).owner and services.policy.may_write(source["kb"], caller):
                return source["kb"]
        except ChatchatError:
            pass
        break
    return None


def add_to_test_set(services, conversation: Conversation, index: int, expected: str, caller: Caller, lang: str) -> str:
    """Turn answer `index`'s question, with the answer a person expects (text a right answer contains),
    into a row of its knowledge base's test set; returns the knowledge base."""
    message = conversation.messages[index]
    kb = test_set_kb(services, message, caller)
    question = conversation.messages[index - 1] if index else None
    if kb is None or question is None or question.role != "user":
        raise InvalidName(t("testset.no_kb", lang))
    item = Item.checked(1, question=question.content, answers=[expected] if (expected or "").strip() else [],
                        source=message.sources[0]["file"])
    testset_of(services, kb).add([item])
    return kb


class FeedbackBar:
    """Build it under the chatbot; `register_events` after the page's components exist."""

    def __init__(self, services, chatbot: gr.Chatbot, conv_id: gr.State, lang: gr.Radio):
        self.services, self.chatbot, self.conv_id, self.lang = services, chatbot, conv_id, lang
        self.index = gr.State(None)  # the stored index of the answer the bar is about
        with gr.Group(visible=False, elem_id="chat-feedback", elem_classes=["cc-feedback"]) as self.box:
            self.said = gr.Markdown(elem_id="chat-feedback-said")
            with gr.Row(equal_height=True):
                self.reason = gr.Textbox(label=tr("feedback.reason"), placeholder=tr("feedback.reason_hint"), scale=4,
                                         max_lines=4, elem_id="chat-feedback-reason")
                self.save = gr.Button(tr("feedback.save"), size="sm", scale=1, min_width=120,
                                      elem_id="chat-feedback-save")
            with gr.Row(equal_height=True, visible=False) as self.test_row:
                self.expected = gr.Textbox(label=tr("testset.expected"), info=tr("testset.expected_info"), lines=2,
                                           max_lines=6, scale=4, elem_id="chat-testset-answer")
                self.add = gr.Button(tr("testset.add"), size="sm", scale=1, min_width=120, elem_id="chat-testset-add")
            self.close = gr.Button(tr("feedback.close"), size="sm", elem_id="chat-feedback-close")

    @property
    def outputs(self) -> list:
        return [self.box, self.index]

    def closed(self) -> dict:
        return {self.box: gr.update(visible=False), self.index: None}

    def opened(self, conversation: Conversation, index: int, lang: str, caller: Caller) -> dict:
        message = conversation.messages[index]
        if message.feedback is None:
            said = t("feedback.ask", lang)
        else:
            said = t("feedback.saved_up" if rating_of(message.feedback) == "up" else "feedback.saved_down", lang)
        kb = test_set_kb(self.services, message, caller)
        return {
            self.box: gr.update(visible=True),
            self.index: index,
            self.said: said,
            self.reason: message.feedback.reason if message.feedback else "",
            self.test_row: gr.update(visible=kb is not None),
            self.expected: _MARKERS.sub("", message.content).strip(),
        }

    def conversation(self, cid: str | None, caller: Caller, lang: str) -> Conversation:
        if not cid:
            raise InvalidName(t("chat.pick_first", lang))
        self.services.policy.check_conversation(caller, cid)
        return self.services.conversations.get(cid)

    def register_events(self, changed: gr.State) -> None:
        """`changed`: the event fired when a conversation changed (a rating changes its export)."""
        bar = [self.box, self.index, self.said, self.reason, self.test_row, self.expected]
        store = self.services.conversations

        @guarded
        def rate(cid, lang_, evt: gr.LikeData, request: gr.Request):
            caller = caller_of(request)
            conversation = self.conversation(cid, caller, lang_)
            index = answer_index(conversation, evt.index, lang_)
            if evt.liked not in (True, False):  # a thumb taken back: the rating given stays until replaced
                return self.opened(conversation, index, lang_, caller)
            kept = conversation.messages[index].feedback
            rate_answer(store, cid, index, score_of("up" if evt.liked else "down"), kept.reason if kept else "")
            return self.opened(store.get(cid), index, lang_, caller)

        @guarded
        def pick(cid, lang_, evt: gr.SelectData, request: gr.Request):
            caller = caller_of(request)
            conversation = self.conversation(cid, caller, lang_)
            index = answer_index(conversation, evt.index, lang_)
            return self.opened(conversation, index, lang_, caller)

        @guarded
        def save(cid, index, reason, lang_, request: gr.Request):
            conversation = self.conversation(cid, caller_of(request), lang_)
            kept = conversation.messages[index].feedback if index is not None else None
            if kept is None:
                raise InvalidName(t("feedback.thumb_first", lang_))
            rate_answer(store, cid, index, kept.score, reason or "")
            info(t("feedback.thanks", lang_))
            return gr.update(visible=False)

        @guarded
        def add(cid, index, expected, lang_, request: gr.Request):
            caller = caller_of(request)
            conversation = self.conversation(cid, caller, lang_)
            kb = add_to_test_set(self.services, conversation, index, expected, caller, lang_)
            info(t("testset.added", lang_, kb=kb))
            return gr.update(visible=False)

        now = {"concurrency_limit": None}
        self.chatbot.like(rate, [self.conv_id, self.lang], bar, **now).then(bump, changed, changed, **now)
        self.chatbot.select(pick, [self.conv_id, self.lang], bar, **now)
        self.save.click(save, [self.conv_id, self.index, self.reason, self.lang], self.box, **now).then(
            bump, changed, changed, **now)
        self.add.click(add, [self.conv_id, self.index, self.expected, self.lang], self.box, **now)
        self.close.click(lambda: gr.update(visible=False), None, self.box, **now)
