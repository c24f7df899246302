"""Phrases: the text templates of generated mentions, and :class:`Phrasebook`, which fills them.

Every text is written here for the scenario generator (none comes from a data set). Templates
hold slots: ``{brand}`` (the brand's handle, name or hashtag, so the radar's matcher can assign
the stream), ``{thing}`` (something a customer deals with), ``{place}``, ``{time}``, ``{day}``
and ``{n}`` (a small number). The generic pools (neutral chit-chat and questions, praise,
complaints) make up the everyday conversation; a :class:`Topic` holds the texts of one event
(a data breach, hidden fees, a launch ...) around a distinctive ``term`` that every one of its
texts contains, so the term surges when the topic does.

Negative texts are written to read as negative to VADER (compound <= -0.05) and positive ones
as positive (>= 0.05); ``tests/test_scenario.py`` checks it on samples.

>>> import random
>>> book = Phrasebook("Acme Air", random.Random(3))
>>> book.handle, book.hashtag
('@AcmeAir', '#acmeair')
>>> text = book.negative()
>>> any(ref in text for ref in ("@AcmeAir", "Acme Air", "#acmeair"))
True
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# -- slot values ------------------------------------------------------------------------------------
THINGS = (
    "app", "website", "account", "order", "booking", "delivery", "subscription", "bill", "invoice",
    "points balance", "store card", "online shop", "live chat", "account number", "refund request",
    "password reset", "latest update", "new plan", "prepaid card", "voucher", "membership", "upgrade",
)  # fmt: skip
PLACES = (
    "Leeds", "Lyon", "Austin", "Denver", "Dublin", "Porto", "Glasgow", "Oslo", "Toronto", "Boston",
    "Seattle", "Bristol", "Madrid", "Berlin", "Chicago", "Phoenix", "Cardiff", "Melbourne", "Nantes",
    "Utrecht", "Atlanta", "Vienna", "Brighton", "Calgary", "Tampa", "Malmo", "Ghent", "Cork",
)  # fmt: skip
TIMES = (
    "this morning", "today", "last night", "yesterday", "this week", "tonight", "since Monday",
    "at lunch", "this afternoon", "on Friday", "over the weekend", "an hour ago",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Easter Monday")

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")

CONTEXT_THINGS = ("app", "website", "booking", "order", "delivery", "bill", "subscription", "refund")
#: Sentiment-neutral context (VADER scores each 0), appended to most texts: real posts carry detail
#: around their point (about 18 words and 100 characters on average), which the core templates lack.
CONTEXTS = (
    "Flight {n} out of {place} {time}.", "Booked it back in {month}.", "Been a customer for {n} years.",
    "Order {order} if anyone from the team reads this.", "Sitting at gate {gate} in {place} right now.",
    "Asking for my mum, she is travelling on {day}.", "Third message about the {thing} in a month.",
    "Posted from {place}.", "Same story for my colleague {time}.", "Screenshot attached.",
    "Details in the thread below.", "My partner and I both noticed it {time}.",
    "Using the app on my phone, latest version.", "Went through the website first, then called.",
    "Checked twice before posting this.", "Reference {order}.", "Anyone else in {place} seeing this?",
    "On the train into {place} as I type this.", "Have the email confirmation right here.",
    "Tagging them so the team sees it.", "Also asked in the community forum.",
    "Two of us on the same booking.", "Account is in my dad's name.",
    "Tried on the laptop and on the tablet.", "Will update this thread later.",
    "Writing this from the queue in {place}.", "Second time {time}.", "Case {order} for reference.",
    "First time posting about this.", "We are a family of {n}.",
)  # fmt: skip

# -- everyday conversation ----------------------------------------------------------------------------
NEUTRAL = (
    "does anyone know if {brand} is open on {day}?",
    "what time does the {brand} helpline open on {day}?",
    "just downloaded the {brand} app, let's see",
    "is the {brand} store in {place} still on the high street?",
    "{brand} ad on tv again tonight",
    "saw a {brand} van in {place} {time}",
    "how do I change the email on my {brand} account?",
    "{brand} has a new logo apparently",
    "reading about {brand} expanding to {place}",
    "question for {brand}: can I update my {thing} online or do I need to call?",
    "my cousin works at {brand} in {place}",
    "{brand} opening hours in {place}?",
    "comparing {brand} with the others for next month",
    "{n} days until my {brand} renewal",
    "anyone tried the {brand} {thing} yet?",
    "{brand} just posted their quarterly numbers",
    "switching my {thing} to {brand} next week",
    "where do I find my {brand} account id",
    "does {brand} deliver to {place}",
    "the {brand} queue in {place} is about {n} people long",
    "{brand} sent me an email about the {thing}",
    "thinking about {brand} for the office",
    "so {brand} changed the menu in the app again",
    "{brand} or the other one for {place}? asking for my brother",
    "filling in the {brand} survey about my {thing}",
    "do you need a receipt for a {brand} {thing} return?",
    "is the {brand} {thing} the same as last year?",
    "{brand} is sponsoring the match in {place} on {day}",
    "picked up my {brand} order {time}",
    "anyone from {place} using {brand}?",
    "hey {brand}, do you have a status page?",
    "{brand} statement on {day} about the {thing} changes",
)
POSITIVE = (
    "{brand} support sorted my {thing} in {n} minutes, great service!",
    "love the new {brand} app, so much easier",
    "shout out to the {brand} team in {place}, super helpful",
    "{brand} never lets me down. thank you!",
    "wow, {brand} refunded me without any fuss. impressed",
    "best {thing} experience I've had in ages, well done {brand}",
    "really happy with {brand} {time}",
    "{brand} staff in {place} were so kind to my mum {time}",
    "big thanks to {brand} for the quick help with my {thing}",
    "credit where it's due: {brand} fixed it fast. excellent",
    "{brand} is honestly the best, 10/10 would recommend",
    "great chat with {brand} support, problem solved",
    "the {brand} {thing} is brilliant, love it",
    "{brand} made my day, thank you so much",
    "smooth and easy {thing} with {brand} again. love it",
    "impressed by {brand}, friendly and fast",
    "{n} years with {brand} and still happy",
    "{brand} customer service is amazing, thanks",
    "nice surprise from {brand} {time}, appreciate it",
    "the {brand} team in {place} deserve a raise, wonderful people",
    "good job {brand}, the {thing} works perfectly now",
    "glad I switched to {brand}, best decision",
    "{brand} just gets it right. great value",
    "so pleased with my {brand} {thing}",
    "awesome service from {brand} in {place}",
    "{brand} went above and beyond {time}, fantastic",
    "loving the {brand} {thing} so far, nice work",
    "{brand} helped me sort everything out, really grateful",
)
NEGATIVE = (
    "still waiting on {brand} to answer, {n} hours on hold. terrible service",
    "{brand} customer service is the worst",
    "absolutely awful experience with {brand} {time}",
    "{brand} lost my {thing} again. useless",
    "so disappointed with {brand}, never again",
    "rude staff at {brand} in {place}. unacceptable",
    "{brand} charged me twice for my {thing}. ridiculous",
    "{n} days and no reply from {brand}. pathetic",
    "why is the {brand} {thing} so bad",
    "hate how {brand} treats loyal customers",
    "{brand} cancelled my {thing} overnight. furious",
    "worst {thing} ever, {brand}. awful",
    "{brand} your {thing} is broken again. sick of it",
    "fed up with {brand}. {n} calls and still broken. terrible",
    "the {brand} {thing} keeps failing. so frustrating",
    "{brand} wasted {n} hours of my life {time}. horrible",
    "{brand} your service is a disgrace. shameful",
    "another problem with my {brand} {thing}. annoyed",
    "never using {brand} again after {time}. awful",
    "{brand} ignored my complaint for {n} days. angry",
    "my {brand} {thing} is wrong AGAIN. so annoying",
    "{brand} in {place} is a mess, terrible",
    "disgusted with how {brand} handled my {thing}",
    "{brand} please stop sending me spam, it's awful",
    "{brand} has become so bad, awful",
    "dealing with {brand} is horrible",
    "terrible {thing}, {brand}. really poor",
    "{brand} broke my {thing} and blamed me. unbelievable, horrible",
    # complaints without a negative word: VADER misses these, as it misses many real ones
    "{n} hours on hold with {brand}. still waiting",
    "{brand} where is my {thing}? day {n}",
    "third email to {brand} about my {thing}, still nothing back",
)

NEUTRAL_TAILS = ("", "", "", "", "?", " 🤔", " (genuine question)")
POSITIVE_TAILS = ("", "", "", "!", " 🙌", " :)", " 👏", " thanks!")
NEGATIVE_TAILS = ("", "", "", "!!", "...", " smh", " 😡", " #fail", " 👎")


@dataclass(frozen=True)
class Topic:
    """What one event's mentions talk about.

    ``term`` is the distinctive word every text of the topic contains (it surges with the topic);
    the three pools hold the topic's negative, neutral and positive templates (any may be empty).
    """

    key: str
    term: str
    negative: tuple[str, ...] = ()
    neutral: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("key: must not be empty")
        if not re.fullmatch(r"[a-z]{3,}", self.term):
            raise ValueError(f"term: {self.term!r} must be one lower-case word")
        for pool in (self.negative, self.neutral, self.positive):
            for template in pool:
                if self.term not in template.lower():
                    raise ValueError(f"term: {self.term!r} missing from template {template!r}")


# -- crises -------------------------------------------------------------------------------------------
CRISIS_TOPICS = (
    Topic(
        "data breach",
        "breach",
        negative=(
            "{brand} data breach: my details leaked. disgusting",
            "just got the {brand} breach email. was my card stolen?? furious",
            "how does {brand} let a breach like this happen. shameful",
            "{brand} hid the breach for weeks. unacceptable",
            "my bank says the fraud came from the {brand} breach. awful",
            "the {brand} breach is a disaster, I want my data deleted",
            "{brand} breach exposed passwords too?! terrible security",
            "so angry about the {brand} breach, zero apology",
            "{brand} customers hacked in a massive breach, worst company",
            "another breach at {brand}. pathetic, never trusting them again",
        ),
        neutral=(
            "is the {brand} breach real? anyone got the email",
            "{brand} breach: what should customers do now",
            "reading the {brand} statement about the breach",
            "how many {brand} accounts are in the breach?",
        ),
    ),
    Topic(
        "service outage",
        "outage",
        negative=(
            "{brand} outage again, everything is down. useless",
            "third outage this month, {brand} is a joke and a disgrace",
            "{brand} outage ruined my whole day. furious",
            "{n} hours into the {brand} outage and zero updates. pathetic",
            "the {brand} outage cost me money {time}. terrible",
            "{brand} outage and the helpline ignores us. awful",
            "unable to pay or log in, the {brand} outage is a horrible mess",
            "so tired of the {brand} outage excuses. unacceptable",
            "{brand} outage is a disaster for small businesses, angry",
        ),
        neutral=(
            "is there a {brand} outage or is it just me?",
            "{brand} outage in {place} too?",
            "any eta on the {brand} outage?",
            "{brand} status page says outage, {n} regions",
        ),
    ),
    Topic(
        "product recall",
        "recall",
        negative=(
            "{brand} recall: my kids used that. scary and angry",
            "{brand} waited weeks for the recall. disgraceful and dangerous",
            "{brand} recall and nobody told customers. shameful",
            "the {brand} recall is a mess, no refund, no answers. awful",
            "worried sick about the {brand} recall, dangerous and careless",
            "{brand} recall process is terrible, {n} hours on hold",
            "{brand} should be ashamed, the recall is a joke",
            "a recall for the second time, {brand}? pathetic",
        ),
        neutral=(
            "which batches are in the {brand} recall?",
            "{brand} recall notice, check your {thing}",
            "how do I return an item from the {brand} recall?",
        ),
    ),
    Topic(
        "refunds refused",
        "refunds",
        negative=(
            "{brand} refusing refunds now?? absolute scam",
            "{brand} stopped refunds for cancelled orders, disgusting",
            "no refunds from {brand} after {n} weeks. thieves",
            "{brand} refunds policy is a scam, never again",
            "angry: {brand} denied refunds to everyone I know",
            "{brand} keeping our money and refusing refunds. shameful",
            "terrible: {brand} refunds team hung up on me",
            "{brand} refunds are a lie, worst company",
        ),
        neutral=(
            "has anyone actually got refunds from {brand}?",
            "{brand} refunds: what is the new rule?",
            "thread on {brand} refunds below",
        ),
    ),
)

SLOW_BURN_TOPICS = (
    Topic(
        "hidden fees",
        "fees",
        negative=(
            "{brand} added hidden fees to my {thing}. sneaky and dishonest",
            "new {brand} fees are ridiculous",
            "check your bills, {brand} fees went up again. awful",
            "{brand} fees everywhere now, greedy",
            "paying {n} in extra fees to {brand}?? outrageous",
            "{brand} fees scandal, cancel your {thing}. terrible",
            "sick of {brand} fees, switching",
        ),
        neutral=(
            "did {brand} change their fees?",
            "where are {brand} fees listed?",
            "{brand} fees thread, post your bill",
        ),
    ),
    Topic(
        "delays",
        "delays",
        negative=(
            "{brand} delays again, {n} days late. terrible",
            "these {brand} delays are killing me, so frustrating",
            "endless {brand} delays, pathetic and rude",
            "{brand} delays ruined my plans {time}. angry",
            "{brand} delays everywhere, worst month ever",
            "sick of {brand} delays, useless",
        ),
        neutral=(
            "anyone else seeing {brand} delays in {place}?",
            "{brand} delays, any update?",
            "how long are {brand} delays now",
        ),
    ),
    Topic(
        "broken update",
        "glitch",
        negative=(
            "{brand} update glitch deleted my {thing}. furious",
            "that {brand} glitch charged me {n} times. terrible",
            "the {brand} glitch is still there, useless and broken",
            "{brand} glitch again, the app is broken. awful",
            "lost my {thing} to the {brand} glitch. angry",
        ),
        neutral=(
            "is the {brand} glitch on android too?",
            "{brand} glitch with the {thing}, anyone?",
        ),
    ),
)

FLIP_TOPICS = (
    Topic(
        "policy change",
        "policy",
        negative=(
            "the new {brand} policy is terrible for customers",
            "{brand} new policy is a disgrace, cancelling",
            "whoever approved this {brand} policy should be ashamed. awful",
            "{brand} policy change means I lose my {thing}. angry",
            "hate the new {brand} policy, so unfair",
            "{brand} policy U-turn please, this is bad",
        ),
        neutral=(
            "what does the new {brand} policy mean for my {thing}?",
            "{brand} policy change from {day}",
        ),
    ),
    Topic(
        "price rise",
        "prices",
        negative=(
            "{brand} prices up again, ridiculous",
            "{brand} raising prices while service gets worse. disgusting",
            "can't afford {brand} prices anymore, greedy",
            "new {brand} prices are a scam",
            "{brand} prices are insane now, so disappointed",
            "leaving {brand}, the prices are awful",
        ),
        neutral=(
            "new {brand} prices from {day}",
            "how much did {brand} prices go up?",
        ),
    ),
)

BUZZ_TOPICS = (
    Topic(
        "product launch",
        "launch",
        positive=(
            "the {brand} launch was amazing!",
            "loving what {brand} showed at the launch, great stuff",
            "{brand} launch day, so excited",
            "best launch of the year, well done {brand}",
            "the new {brand} {thing} from the launch looks brilliant",
            "watched the {brand} launch, impressive",
            "{brand} nailed the launch, love it",
        ),
        neutral=(
            "{brand} launch at {n}pm",
            "anyone watching the {brand} launch?",
            "when can we buy the stuff from the {brand} launch?",
        ),
        negative=("missed the {brand} launch, stream was terrible",),
    ),
    Topic(
        "award",
        "award",
        positive=(
            "congrats {brand} on the award, well deserved!",
            "{brand} wins the customer award, great news",
            "so happy for the {brand} team, award winners",
            "{brand} award is deserved, best service around",
            "proud customer: {brand} got the award",
        ),
        neutral=(
            "{brand} shortlisted for the award tonight",
            "which award did {brand} get?",
        ),
        negative=("{brand} bought that award, pathetic",),
    ),
)

PROMO = Topic(
    "weekly deals newsletter",
    "deals",
    neutral=(
        "this week's {brand} deals are out",
        "{brand} deals email just landed",
        "{brand} deals: {n}% off the {thing}",
        "new {brand} deals, link in the newsletter",
        "{brand} weekly deals thread",
    ),
    positive=(
        "nice {brand} deals this week, great prices",
        "love the {brand} deals on the {thing}!",
        "the {brand} deals are good today, grabbed one",
        "{brand} deals newsletter is the best part of my week",
    ),
)

SPAM_TEMPLATES = (
    "🎁 {brand} vouchers {n}% OFF today only >>> {link} #giveaway",
    "{brand} voucher giveaway!!! claim yours {link} #deal",
    "get {brand} vouchers free now {link} hurry #giveaway",
)
SPAM_DOMAINS = ("deals-hub.example", "vouchr.example", "freebie-zone.example")

# -- authors ------------------------------------------------------------------------------------------
FIRST_NAMES = (
    "sam", "alex", "jo", "maria", "li", "omar", "nina", "tom", "ava", "raj", "emma", "kai", "zoe", "ben",
    "ines", "leo", "mia", "noah", "sara", "yuki", "dan", "eva", "finn", "hana", "ivan", "jules", "kim",
    "lara", "max", "nora", "oli", "pia", "quinn", "rosa", "theo", "una", "vik", "wren", "xena", "yara",
)  # fmt: skip
HANDLE_WORDS = (
    "travels", "reads", "codes", "runs", "bakes", "writes", "the_dev", "in_town", "photo", "music",
    "daily", "notes", "fan", "here", "online", "says", "home", "cycles", "cooks", "plays", "draws",
    "thinks", "_uk", "_us", "world", "life", "mom", "dad", "games", "sports",
)  # fmt: skip
SPAM_WORDS = ("deals", "promo", "coupon", "freebies", "bargain", "offers", "vouchers", "savings")


def author_handle(index: int) -> str:
    """The handle of author ``index`` (>= 0); different indices give different handles."""
    if index < 0:
        raise ValueError(f"index: {index} must be >= 0")
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    rest = index // len(FIRST_NAMES)
    word = HANDLE_WORDS[rest % len(HANDLE_WORDS)]
    number = rest // len(HANDLE_WORDS)
    return f"{first}_{word}" if number == 0 else f"{first}{word}{number}"


def _brand_words(display: str) -> list[str]:
    words = re.findall(r"[A-Za-z0-9]+", display)
    if not words:
        raise ValueError(f"display: {display!r} has no letters or digits")
    return words


def brand_handle(display: str) -> str:
    """The brand's handle, e.g. ``@AcmeAir`` for "Acme Air"."""
    return "@" + "".join(w[:1].upper() + w[1:] for w in _brand_words(display))


def brand_hashtag(display: str) -> str:
    """The brand's hashtag, e.g. ``#acmeair`` for "Acme Air"."""
    return "#" + "".join(_brand_words(display)).lower()


class Phrasebook:
    """Fills the templates for one brand, drawing slot values from ``rnd``.

    The brand is referred to by its handle (``@AcmeAir``), its name (``Acme Air``) or its hashtag
    (``#acmeair``); some texts also get the hashtag appended.
    """

    def __init__(self, display: str, rnd: random.Random) -> None:
        self.display = display
        self.rnd = rnd
        self.handle = brand_handle(display)
        self.hashtag = brand_hashtag(display)

    def _brand(self) -> str:
        u = self.rnd.random()
        if u < 0.52:
            return self.handle
        if u < 0.92:
            return self.display
        return self.hashtag

    def fill(self, template: str, tails: tuple[str, ...] = ("",)) -> str:
        """``template`` with its slots filled, a random tail, and sometimes the hashtag."""
        rnd = self.rnd
        text = template
        if "{brand}" in text:
            text = text.replace("{brand}", self._brand(), 1)
        if "{thing}" in text:
            text = text.replace("{thing}", rnd.choice(THINGS))
        if "{place}" in text:
            text = text.replace("{place}", rnd.choice(PLACES))
        if "{time}" in text:
            text = text.replace("{time}", rnd.choice(TIMES))
        if "{day}" in text:
            text = text.replace("{day}", rnd.choice(DAYS))
        if "{n}" in text:
            text = text.replace("{n}", str(rnd.randint(2, 48)))
        text += rnd.choice(tails)
        u = rnd.random()
        for _ in range(0 if u < 0.1 else 1 if u < 0.6 else 2):
            text += " " + self.context()
        if self.hashtag not in text and rnd.random() < 0.15:
            text += " " + self.hashtag
        return text

    def context(self) -> str:
        """A sentiment-neutral detail sentence (a flight, an order number, where they are)."""
        rnd = self.rnd
        text = rnd.choice(CONTEXTS)
        if "{" not in text:
            return text
        return (
            text.replace("{n}", str(rnd.randint(2, 48)))
            .replace("{place}", rnd.choice(PLACES))
            .replace("{time}", rnd.choice(TIMES))
            .replace("{day}", rnd.choice(DAYS))
            .replace("{thing}", rnd.choice(CONTEXT_THINGS))
            .replace("{month}", rnd.choice(MONTHS))
            .replace("{order}", str(rnd.randint(100000, 999999)))
            .replace("{gate}", f"{rnd.choice('ABCEF')}{rnd.randint(1, 40)}")
        )

    def neutral(self) -> str:
        """An everyday neutral text: a question, chit-chat, news."""
        return self.fill(self.rnd.choice(NEUTRAL), NEUTRAL_TAILS)

    def positive(self) -> str:
        """Everyday praise."""
        return self.fill(self.rnd.choice(POSITIVE), POSITIVE_TAILS)

    def negative(self) -> str:
        """An everyday, generic complaint."""
        return self.fill(self.rnd.choice(NEGATIVE), NEGATIVE_TAILS)

    def topic(self, topic: Topic, sentiment: str) -> str:
        """A text about ``topic`` with ``sentiment`` ("negative", "neutral" or "positive").

        Falls back to the everyday pool when the topic has no template of that sentiment.
        """
        pool: tuple[str, ...] = getattr(topic, sentiment)
        if not pool:
            everyday = {"negative": self.negative, "neutral": self.neutral, "positive": self.positive}
            return everyday[sentiment]()
        tails = {"negative": NEGATIVE_TAILS, "neutral": NEUTRAL_TAILS, "positive": POSITIVE_TAILS}[sentiment]
        return self.fill(self.rnd.choice(pool), tails)

    def spam(self, code: str) -> str:
        """A near-identical promotional text with a link carrying ``code``."""
        rnd = self.rnd
        link = f"https://{rnd.choice(SPAM_DOMAINS)}/{code}"
        text = rnd.choice(SPAM_TEMPLATES)
        text = text.replace("{brand}", self.handle if rnd.random() < 0.7 else self.display)
        return text.replace("{n}", str(rnd.choice((50, 70, 80, 90)))).replace("{link}", link)


def topic_by_key(key: str) -> Topic:
    """The topic named ``key`` among all the topics above."""
    for topic in (*CRISIS_TOPICS, *SLOW_BURN_TOPICS, *FLIP_TOPICS, *BUZZ_TOPICS, PROMO):
        if topic.key == key:
            return topic
    raise ValueError(f"key: no topic {key!r}")
