"""The made-up databases the intent corpus talks about. They are the project's own
(a shop, a company's staff, a school, a vehicle fleet, a clinic, a library, a hotel, a
farm): the corpus must teach the *shape* of a question, so its nouns come from many
unrelated domains and none from any benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    """One table as a person talks about it: plural and singular nouns, its text columns
    with values a question could name, its numeric and date columns, and the columns a
    model could learn to predict."""

    plural: str
    singular: str
    texts: dict[str, tuple[str, ...]]
    numbers: tuple[str, ...]
    dates: tuple[str, ...]
    targets: tuple[str, ...]
    names: tuple[str, ...] = ()  # values of its name column, for "the X named Y"


@dataclass(frozen=True)
class Domain:
    name: str
    entities: tuple[Entity, ...]
    models: tuple[str, ...]  # names a user would give a model of this domain


DOMAINS: tuple[Domain, ...] = (
    Domain("shop", (
        Entity("customers", "customer",
               {"city": ("Lagos", "Nairobi", "Lyon", "Denver", "Osaka"), "segment": ("retail", "wholesale", "vip"),
                "status": ("active", "dormant")},
               ("age", "balance", "loyalty points"), ("signup date",), ("segment", "churned"),
               ("Ada Obi", "Lena Roth", "Ken Ito")),
        Entity("orders", "order",
               {"status": ("shipped", "pending", "cancelled"), "channel": ("web", "phone", "store")},
               ("amount", "discount", "quantity"), ("order date", "ship date"), ("status", "returned")),
        Entity("products", "product",
               {"category": ("toys", "garden", "kitchen", "books"), "brand": ("Acme", "Nordia", "Kestrel")},
               ("price", "stock", "weight"), ("launch date",), ("category",),
               ("desk lamp", "steel kettle")),
    ), ("churn", "basket-size", "return-risk", "customer-segment")),
    Domain("hr", (
        Entity("employees", "employee",
               {"department": ("sales", "finance", "engineering", "legal"), "title": ("analyst", "manager", "intern"),
                "office": ("Berlin", "Toronto", "Accra")},
               ("salary", "age", "bonus", "years of service"), ("hire date", "birth date"), ("attrition", "title"),
               ("Maria Lopez", "Tom Berg", "Yuki Sato")),
        Entity("departments", "department", {"region": ("north", "south", "emea")},
               ("budget", "headcount"), ("founded on",), ()),
        Entity("leave requests", "leave request", {"kind": ("sick", "vacation", "parental")},
               ("days",), ("start date",), ("approved",)),
    ), ("attrition", "salary-band", "flight-risk")),
    Domain("school", (
        Entity("students", "student",
               {"major": ("physics", "history", "biology"), "grade level": ("freshman", "senior"),
                "hometown": ("Porto", "Leeds", "Kumasi")},
               ("gpa", "credits", "age"), ("enrollment date",), ("dropout", "major"),
               ("Sam Okafor", "Ines Duarte")),
        Entity("courses", "course", {"subject": ("math", "chemistry", "art")},
               ("credits", "capacity"), ("start date",), ()),
        Entity("teachers", "teacher", {"faculty": ("science", "humanities")},
               ("years of experience", "salary"), ("hire date",), ("faculty",)),
    ), ("dropout", "grade-predictor", "pass-fail")),
    Domain("fleet", (
        Entity("vehicles", "vehicle",
               {"fuel type": ("diesel", "electric", "petrol"), "depot": ("Leipzig", "Durban", "Fresno"),
                "make": ("Volvo", "Tata", "Ford")},
               ("mileage", "capacity", "model year"), ("last service date",), ("breakdown", "fuel type")),
        Entity("drivers", "driver", {"license class": ("B", "C", "CE"), "shift": ("night", "day")},
               ("age", "years licensed", "incidents"), ("hire date",), ("incident risk",),
               ("Olu Ade", "Pia Kern")),
        Entity("trips", "trip", {"route": ("coastal", "inland", "urban")},
               ("distance", "duration", "fuel used"), ("departure time",), ("late",)),
    ), ("breakdown", "late-arrival", "fuel-use")),
    Domain("clinic", (
        Entity("patients", "patient",
               {"blood type": ("A+", "O-", "B+"), "ward": ("cardiology", "pediatrics", "oncology"),
                "town": ("Graz", "Cusco", "Hilo")},
               ("age", "weight", "heart rate"), ("admission date", "discharge date"), ("readmitted", "ward"),
               ("Ana Silva", "Raj Mehta")),
        Entity("appointments", "appointment", {"status": ("booked", "missed", "done")},
               ("duration", "fee"), ("scheduled for",), ("no show",)),
        Entity("doctors", "doctor", {"specialty": ("surgery", "dermatology", "neurology")},
               ("years of practice", "rating"), ("joined on",), ()),
    ), ("readmission", "no-show", "length-of-stay")),
    Domain("library", (
        Entity("books", "book", {"genre": ("mystery", "poetry", "science fiction"), "language": ("English", "Swahili")},
               ("pages", "copies", "publication year"), ("added on",), ("genre",), ("The Long Tide",)),
        Entity("members", "member", {"membership": ("student", "senior", "family"), "branch": ("Eastside", "Harbor")},
               ("age", "fines owed"), ("joined on",), ("lapsed",)),
        Entity("loans", "loan", {"state": ("returned", "overdue")}, ("days out", "renewals"), ("due date",),
               ("overdue",)),
    ), ("late-return", "genre-guess", "member-lapse")),
    Domain("hotel", (
        Entity("bookings", "booking", {"room type": ("suite", "double", "single"), "source": ("agency", "direct")},
               ("nights", "rate", "guests"), ("check in date",), ("cancelled",)),
        Entity("guests", "guest", {"country": ("Chile", "Ghana", "Norway"), "tier": ("gold", "silver")},
               ("age", "stays"), ("first stay",), ("tier",), ("Eva Holm",)),
        Entity("rooms", "room", {"floor": ("ground", "top")}, ("size", "price"), ("renovated on",), ()),
    ), ("cancellation", "upsell", "guest-tier")),
    Domain("farm", (
        Entity("fields", "field", {"crop": ("maize", "barley", "cassava"), "soil": ("clay", "loam", "sand")},
               ("area", "yield", "rainfall"), ("planted on",), ("crop",)),
        Entity("harvests", "harvest", {"quality": ("prime", "standard")}, ("tonnes", "moisture"),
               ("harvest date",), ("quality",)),
        Entity("animals", "animal", {"species": ("goat", "cow", "sheep"), "pen": ("east", "west")},
               ("weight", "age"), ("born on",), ("sick",)),
    ), ("yield", "crop-quality", "animal-health")),
)

# Domains the tests hold out: the rule path is measured on questions about schemas it
# has not seen a single template instance of.
HELD_OUT = ("fleet", "clinic")
