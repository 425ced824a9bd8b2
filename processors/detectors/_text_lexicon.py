"""Word lists behind :mod:`._text`: stop words, filler words, synonym groups, common words.

Data only. The synonym groups are what lets ``rephrase`` see that "cancel my subscription" and
"stop paying for my plan" ask the same thing without an embedding model: each group is one
*concept*; a word belongs to at most one group (a test checks it after stemming). Groups are
deliberately narrow (true substitutes in a support conversation), because a wrong merge turns a
follow-up on a different subject into a false rephrase. The few words with two senses in a
support conversation ("payment": a price or a transfer) are in no group but in
``SYNONYM_SENSES``, and match a concept of either sense.
"""

from __future__ import annotations

__all__ = [
    "COMMON_ALNUM",
    "COMMON_CAPITALISED",
    "FILLERS",
    "GENERIC_CONCEPTS",
    "MONTHS",
    "NUMBER_WORDS",
    "PLACES",
    "STOPWORDS",
    "SYNONYM_GROUPS",
    "SYNONYM_PHRASES",
    "SYNONYM_SENSES",
    "UNIT_WORDS",
    "WEEKDAYS",
    "words",
]


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = words(
    """
    a an the and or but if then else so of to in on at by for with about from into onto over under
    up down out off as than too very can could would should will shall may might must do does did
    done doing have has had having be is are was were been being am i me my mine myself you your
    yours yourself we us our ours they them their theirs he him his she her hers it its itself this
    that these those there here what which who whom whose when where why how all any some no nor
    not only own same such both each few more most other another just also still even yet ever
    i'm i've i'd i'll you're you've you'd you'll we're we've they're it's that's there's what's
    who's where's how's when's why's let's isn't aren't wasn't weren't don't doesn't didn't can't
    cannot couldn't won't wouldn't shouldn't haven't hasn't hadn't im ive id ill youre dont doesnt
    didnt cant wont isnt arent wasnt shouldnt couldnt wouldnt whats hows wheres thats theres lets
    get gets got getting go goes going went gone make makes made one ones anything something
    everything nothing someone anyone everyone thing things way ways kind sort bit lot lots much
    many again please pls plz thanks thank hi hello hey ok okay yes yeah yep no nope sure well oh
    hmm um uh like just really actually basically exactly now currently today since during once
    while until unless because whether per via etc before after through across around between within
    without against among along toward towards inside
    """
)
"""Function words and chat noise: never content. ``today``/``now`` are here because "today" rarely
changes what is asked; a date or weekday would be an entity anyway."""

FILLERS = words(
    """
    want wanna need needs needed know knew tell told help helps helped able possible possibly
    question questions ask asks asking asked mean means meant explain explains explained
    understand understood info information detail details step steps guide instruction
    instructions answer answers reply respond said say says saying try tries tried trying
    figure wondering wonder idea clear clearly quick quickly easy easily best good great proper
    properly correct correctly right exact specific specifically simply simple rephrase word words
    other else anyway though although again already back let know would there possible option
    options happen happens happened work works worked working use using used thanks please
    someone something somebody process procedure take takes taking took reason reasons code
    keep keeps kept cause causes caused tip tips seriously lately see sees
    continue proceed resume elaborate expand go offer offered offers provide provided provides receive
    received receives give given gives entitled eligible allowed allow allows permitted
    """
)
"""Words a paraphrase adds or drops freely ("I want to know how…", "can you tell me…"): ignored
when comparing what two questions ask. ``work`` is here because "how does X work" and "explain
X" ask the same; ``back`` because "get my money back" is matched as a phrase first."""

# Each line is one concept; the first word names it. Multi-word entries go in SYNONYM_PHRASES.
SYNONYM_GROUPS: tuple[str, ...] = (
    # commerce / accounts
    "cancel cancellation cancelling canceling cancelled canceled stop terminate termination discontinue"
    " unsubscribe deactivate end close closing delete deleted deletion remove removed removal erase wipe",
    "subscription subscribe subscribed membership plan tier",
    # paying and what it costs are one concept: "for free" = "without paying", "fee" = "charge"
    "price prices pricing cost costs fee fees priced expensive cheap pay paying paid bill"
    " billing billed charge charged charges invoice invoiced transaction transactions",
    "refund refunds refunded reimburse reimbursed reimbursement",
    "return returns returned returning",
    "order orders ordered purchase purchased purchases",
    "deliver delivery deliveries delivered ship shipping shipped shipment arrive arrival arrives"
    " dispatch dispatched courier transit",
    "track tracking",
    "discount discounts coupon coupons promo voucher vouchers sale sales promotion promotions deal deals",
    "installment installments instalment instalments financing",
    "stock available availability",
    "warranty guarantee",
    "size sizes sizing big bigger large larger capacity storage quota",
    "weight weights heavy heavier weigh weighs",
    "broken damaged defective faulty cracked break breaks breaking broke",
    "account profile",
    "password passwords passcode credentials",
    "login log signin logon",
    "signup register registration enroll enrol enrollment",
    "reset recover recovery forgot forgotten",
    "change changes changed modify modified edit update updated alter amend move reschedule",
    "add added",
    "address addresses",
    "email emails mail",
    "phone mobile cellphone smartphone",
    "contact reach talk speak",
    # banking
    "transfer transfers transferred wire",
    "money funds fund cash",
    "card cards",
    "lost lose missing stolen misplaced",
    "block blocked freeze frozen lock locked suspend suspended",
    "loan loans mortgage",
    "interest apr",
    "fraud fraudulent scam unauthorized unauthorised suspicious",
    "dispute disputes contest challenge",
    "withdraw withdrawal withdrawals atm",
    "deposit deposits deposited",
    "limit limits maximum max cap allowance allowances",
    "expire expires expired expiry expiration valid validity lifetime",
    "balance balances remaining remain left",
    "increase raise boost",
    "decline declined reject rejected denied refused",
    "abroad international overseas",
    # travel
    "flight flights fly flying airfare airline",
    "book booking booked reserve reservation reservations",
    "hotel hotels accommodation lodging",
    "luggage baggage bag bags suitcase suitcases",
    "delay delayed late",
    "trip travel travelling traveling journey",
    "include included includes",
    "passport visa",
    # HR
    "vacation vacations holiday holidays pto",
    "salary salaries wage wages paycheck paychecks payroll earnings payday",
    "payslip payslips paystub paystubs",
    "sick illness ill unwell",
    "remote wfh telework telecommute",
    "manager boss supervisor",
    "resign resignation quit quitting",
    "notification notifications alert alerts",
    "disable disabled",
    "dress attire outfit clothes clothing wear wearing",
    "schedule scheduled",
    "benefit benefits perks",
    "expense expenses",
    "claim claims submit",
    # healthcare
    "doctor doctors physician gp clinician",
    "medicine medication medications drug drugs pill pills meds prescription",
    "symptom symptoms",
    "dose dosage",
    "appointment appointments consultation",
    "pain ache aches hurt hurts sore",
    "fever temperature",
    "vaccine vaccines vaccination vaccinated jab shot immunization",
    "pregnant pregnancy",
    "insurance insured",
    # IT support
    "laptop computer pc desktop machine",
    "wifi internet network connection connectivity online connect connected connecting",
    "slow sluggish lag laggy",
    "problem problems issue issues error errors bug bugs trouble glitch fault failure fail fails"
    " failing failed crash crashes crashing exception exceptions throw throws thrown",
    "mistake mistakes wrong incorrect",
    "enable enabled activate activated",
    "undo revert rollback",
    "recent latest previous last",
    "fast faster fastest speed speedup performance quicker quickest",
    "website websites site sites webpage",
    "print printer printing printers",
    "tv television",
    "annual annually yearly year",
    "day days daily",
    # a span of time: "the guarantee period" asks what "how long" asks
    "duration period periods timeframe",
    "fix fixed solve solved resolve resolved repair troubleshoot workaround",
    "install installing installation installed setup configure configuration",
    "restart reboot",
    "timeout timeouts abort aborts aborted",
    "access permission permissions",
    "app application software program",
    "export download",
    "document documents paper papers paperwork",
    "business company",
    "screen monitor display",
    # coding
    "function functions method methods def",
    "list lists array arrays",
    "dict dictionary dictionaries hashmap",
    "string strings str",
    "loop loops iterate iterating iteration",
    "convert converting conversion cast transform",
    "library libraries module modules dependency dependencies",
    "read load parse",
    "database databases db",
    "deploy deployment deploying",
)

SYNONYM_SENSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("payment payments", ("price", "transfer")),
    ("send sending sent", ("transfer", "deliver")),
    ("cover covers covered coverage", ("insurance", "warranty")),
)
"""Words with two senses in a support conversation, each sense a concept of
:data:`SYNONYM_GROUPS`: "payments going to Brazil" are transfers, "a payment fee" a price; a
parcel "sent to Japan" is shipped, money "sent to Japan" transferred; "how long am I covered" asks
about the warranty (or the insurance). The first word names the concept; it matches itself and
every concept of its senses."""

SYNONYM_PHRASES: dict[str, str] = {
    "money back": "refund",
    # "when is my money back", "the money is back on my card": the same ask as a refund's
    "money is back": "refund",
    "money be back": "refund",
    "money returned": "refund",
    "get my money": "refund",
    "send back": "return",
    "time off": "vacation",
    "day off": "vacation",
    "days off": "vacation",
    "annual leave": "vacation",
    "log in": "login",
    "log into": "login",
    "sign in": "login",
    "sign into": "login",
    "sign up": "signup",
    "set up": "install",
    "get rid": "cancel",
    "opt out": "cancel",
    "work from": "remote",
    "credit card": "card",
    "debit card": "card",
    "bank card": "card",
    "phone number": "phone",
    "side effect": "side_effect",
    "side effects": "side_effect",
    "adverse reaction": "side_effect",
    "not working": "problem",
    "doesn't work": "problem",
    "doesnt work": "problem",
    "won't work": "problem",
    "isn't working": "problem",
    "stopped working": "problem",
    "go wrong": "problem",
    "went wrong": "problem",
    "health care": "doctor",
    "care provider": "doctor",
    "check in": "checkin",
    "check-in": "checkin",
    "check out": "checkout",
    "how much": "quantity",
    "how much is": "price",
    "how much does": "price",
    "how much do": "price",
    "how much will": "price",
    "how much would": "price",
    "how much for": "price",
    "paid time off": "vacation",
    "how long": "duration",
    "how much time": "duration",
    "how many days": "duration",
    "how many hours": "duration",
    "how many weeks": "duration",
    "payment plan": "installment",
    "for free": "price",
    "health savings account": "hsa",
    "flexible spending account": "fsa",
    "roll back": "undo",
    "pay back": "refund",
    "claim back": "refund",
    "turn off": "disable",
    "switch off": "disable",
    "dress code": "dress",
    "leave the company": "resign",
    "time limit": "limit",
    "time out": "timeout",
    "times out": "timeout",
    "timed out": "timeout",
    "don't configure": "default",
    "not configured": "default",
    "without configuring": "default",
    "tim out": "timeout",
    "come with": "include",
    "pay stub": "payslip",
    "get paid": "salary",
    "two factor": "2fa",
    "two-factor": "2fa",
    "turn on": "enable",
    "switch on": "enable",
}
"""Two- and three-word phrases matched (on stems) before single words; "how much is/does…" counts as
price because "how much is X" and "what does X cost" are the commonest rewording of each other,
while "how much leave…" asks a quantity."""

GENERIC_CONCEPTS = words("problem fix change mistake contact include last add delete duration price quantity")
"""Concept names too general to make two questions the same on their own (question frames
included: "how long", "how much"), nor to show that a follow-up took up what an answer said
("…paid…")."""

COMMON_CAPITALISED = words(
    """
    the a an and or but if so of to in on at by for with from as is are was were be this that these
    those there here it its i i'm i've i'd i'll you your we our they their he she his her my me yes
    no not note tip
    however therefore also additionally alternatively finally first firstly second secondly third
    then next lastly last based according unfortunately fortunately sure certainly absolutely great
    good okay ok hello hi hey dear thanks thank please sorry welcome remember keep make click tap
    select choose open close go navigate enter type press scroll visit log sign check review contact
    call email reach use try consider ensure important warning caution step option example summary
    answer question yes overall typically generally usually often sometimes currently today
    tomorrow yesterday settings setting account profile billing payment payments home menu help
    support save cancel submit continue back next done ok apply confirm edit delete add remove
    update upload download search filter sort view details order orders dashboard security privacy
    preferences notifications subscription subscriptions plan plans manage password login logout
    app api faq pdf url id ok ai hr it us usa uk eu vpn sso pto ceo faq html css json sql http
    https www com to-do todo all any each every some many most more less what which who when where
    why how while although though because since until unless after before during within without
    depending given including regarding following following: per via etc note: step: q a
    """
)
"""Capitalised words that are not names: sentence openers, UI labels, common acronyms."""

COMMON_ALNUM = words(
    """
    2fa mfa 24/7 covid-19 covid19 mp3 mp4 4k 8k 5g 4g 3g lte 3d 2d b2b b2c p2p h1 h2 h3 x86 x64
    arm64 utf-8 utf8 sha256 sha1 md5 base64 ipv4 ipv6 http2 http3 oauth2 s3 ec2 gpt-4 gpt-4o
    gpt-3.5 gpt4 gpt4o 401k 1099 w-2 w2 i-9 a4 usb-c usb3 hdmi2 e2e
    """
)
"""Tokens with letters and digits that are vocabulary, not identifiers."""

MONTHS: dict[str, int] = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

WEEKDAYS = words(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun"
)

NUMBER_WORDS: dict[str, float] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12, "once": 1, "twice": 2,
    "single": 1, "double": 2, "half": 0.5,
}  # fmt: skip

UNIT_WORDS = words(
    """
    % percent per cent usd eur gbp dollars dollar euros euro pounds pound cents cent yen bucks
    second seconds sec secs minute minutes min mins hour hours hr hrs day days week weeks month
    months year years yr yrs night nights business working calendar
    kg g mg mcg ml l lb lbs oz km m cm mm mi mile miles ft feet inch inches gb mb kb tb gbps mbps
    ms mph kph °c °f degrees
    items item units unit pieces devices device users user seats seat licenses license accounts
    tickets bags bag guests guest people persons adults children rooms room nights attempts tries
    times payments installments credits points stars tablets tablet capsules doses dose pills
    times x
    """
)
"""Words after a number that make even a small number a claim ("3 business days", "2 bags")."""

PLACES = words(
    """
    paris london rome berlin madrid lisbon amsterdam brussels vienna prague budapest warsaw athens
    dublin edinburgh oslo stockholm copenhagen helsinki zurich geneva milan venice florence
    barcelona munich frankfurt istanbul moscow cairo dubai doha delhi mumbai bangalore singapore
    tokyo osaka kyoto seoul beijing shanghai hongkong bangkok manila jakarta sydney melbourne
    auckland toronto vancouver montreal chicago boston seattle denver austin dallas houston miami
    atlanta phoenix vegas orlando nyc sf york francisco angeles mexico lima bogota santiago
    rio janeiro buenos aires france spain italy germany portugal netherlands belgium austria
    switzerland poland greece ireland scotland england britain uk usa america canada japan china
    korea india australia brazil argentina chile peru egypt morocco kenya nigeria turkey russia
    thailand vietnam indonesia philippines norway sweden denmark finland iceland texas california
    florida
    """
)
"""Places a user types in lower case ("weather in rome"): an entity for the rephrase check."""
