"""The fixed word lists of StoryWorld: characters, agents, weapons, places, objects, injuries.

Every entry is plain text so the tables stay easy to read and extend; :mod:`nines.storyworld.tables`
turns them into the numpy index arrays the vectorised sampler uses.

Victim classes (why three): sentience decides the oracle label, and mobility decides which
opening sentences make sense (a statue does not "creep along the wall").
"""

from __future__ import annotations

from typing import NamedTuple

#: Victim classes.
SENTIENT, NS_MOBILE, NS_STILL = 0, 1, 2

#: Pronoun sets: subject, object, possessive, reflexive, past of "to be" after the pronoun.
PRONOUNS: dict[str, tuple[str, str, str, str, str]] = {
    "she": ("she", "her", "her", "herself", "was"),
    "he": ("he", "him", "his", "himself", "was"),
    "they": ("they", "them", "their", "themselves", "were"),
    "it": ("it", "it", "its", "itself", "was"),
}


class Character(NamedTuple):
    """A character who may be the victim (or an intruder in an incoherent completion)."""

    name: str
    pronoun: str
    kind: str
    vclass: int


class Agent(NamedTuple):
    """The source of danger in a scene; ``beast`` agents use natural weapons."""

    name: str
    pronoun: str
    beast: bool
    natural: tuple[str, ...] = ()


def _chars(spec: str, kind: str, vclass: int) -> list[Character]:
    """Parse ``"Name:pronoun, Name:pronoun"`` into characters."""
    out = []
    for item in spec.split(","):
        name, pron = item.strip().rsplit(":", 1)
        out.append(Character(name.strip(), pron.strip(), kind, vclass))
    return out


def _agents(spec: str, beast: bool) -> list[Agent]:
    out = []
    for item in spec.split(","):
        name, pron, *nat = item.strip().split(":")
        natural = tuple(w.strip() for w in nat[0].split("/")) if nat else ()
        out.append(Agent(name.strip(), pron.strip(), beast, natural))
    return out


def _words(spec: str) -> list[str]:
    return [w.strip() for w in spec.split(",") if w.strip()]


def _places(spec: str) -> list[tuple[str, str]]:
    """Parse ``"prep|noun phrase; ..."`` into (noun phrase, prepositional phrase) pairs."""
    out = []
    for item in spec.split(";"):
        prep, noun = item.strip().split("|")
        out.append((noun.strip(), f"{prep.strip()} {noun.strip()}"))
    return out


#: Named humans shared by every genre (sentient).
NAMES = _chars(
    "Mara:she, Elena:she, Priya:she, Ada:she, Hana:she, Lucia:she, Nell:she, Rosa:she, Ingrid:she, "
    "Zara:she, Yuki:she, Fatima:she, Tom:he, Jonah:he, Ravi:he, Felix:he, Omar:he, Hugo:he, Kenji:he, "
    "Malik:he, Arlo:he, Dmitri:he, Sven:he, Sam:they, Robin:they, Ash:they, Quinn:they, Rowan:they",
    "human",
    SENTIENT,
)

#: Intruders: characters that never appear in prompts, used by incoherent completions.
INTRUDERS_SENTIENT = _chars(
    "Tobias:he, Greta:she, Captain Reyes:she, the milkman:he, Aunt Beatrice:she, the postman:he, "
    "Dr. Okafor:he, Wendell:he, Marguerite:she, the ferryman:he, Old Pim:they, the baker's boy:he",
    "human",
    SENTIENT,
)
INTRUDERS_NONSENTIENT = _chars(
    "the brass automaton:it, the tin robot:it, the wooden puppet:it, the marble bust:it, "
    "the clockwork owl:it, the plaster angel:it",
    "object",
    NS_STILL,
)


class Genre(NamedTuple):
    """One genre's pools; names are shared, the rest is genre specific."""

    name: str
    sentient: list[Character]
    nonsentient: list[Character]
    agents: list[Agent]
    weapons: list[str]
    places: list[tuple[str, str]]
    objects: list[str]


GENRES: list[Genre] = [
    Genre(
        "fantasy",
        _chars("the young knight:she, the old wizard:he, the squire:he, the elf archer:she", "human", 0)
        + _chars("the talking fox:she, the badger:he, the dragon hatchling:it", "talking creature", 0)
        + _chars("the vampire Count Orlok:he, the vampire:she", "vampire", 0),
        _chars("the animated skeleton:it, the clockwork knight:it", "skeleton", NS_MOBILE)
        + _chars("the stone statue:it, the scarecrow:it", "statue", NS_STILL),
        _agents("the troll:it, the orc captain:he, the witch:she, the dark knight:he, the ogre:it", False)
        + _agents("the wolf:it:jaws/teeth, the giant spider:it:fangs/legs, the wyvern:it:talons/tail", True),
        _words("club, axe, sword, spear, mace, staff"),
        _places(
            "along|the castle wall; through|the dark forest; across|the rope bridge; down|the tower stairs; "
            "into|the dragon's cave; through|the ruined chapel; along|the river bank"
        ),
        _words("the old lantern, the wooden shield, the crystal orb, the map, the stone gargoyle, the banner"),
    ),
    Genre(
        "domestic",
        _chars("the grandmother:she, the landlord:he, the new neighbour:she, the teenager:they", "human", 0)
        + _chars("the old dog:he, the tabby cat:she, the parrot:it", "animal", 0),
        _chars("the robot vacuum:it", "robot", NS_MOBILE)
        + _chars("the garden gnome:it, the old teddy bear:it, the mannequin:it", "toy", NS_STILL),
        _agents("the drunk uncle:he, the furious landlord:he, the stranger:they, the intruder:he", False)
        + _agents("the neighbour's dog:it:teeth/jaws", True),
        _words("kitchen knife, rolling pin, hammer, frying pan, wrench, baseball bat"),
        _places(
            "across|the kitchen; down|the cellar stairs; through|the back garden; along|the upstairs hallway; "
            "into|the garage; across|the icy driveway"
        ),
        _words("the vase, the television, the mirror, the teapot, the picture frame, the laptop"),
    ),
    Genre(
        "children",
        _chars("the little girl:she, the little boy:he, the shepherd boy:he", "human", 0)
        + _chars("the bunny:she, the hedgehog:he, the duckling:it, the talking mouse:she", "talking creature", 0),
        _chars("the wind-up robot:it", "robot", NS_MOBILE)
        + _chars("the toy soldier:it, the rag doll:it, the snowman:it", "toy", NS_STILL),
        _agents("the grumpy giant:he, the wicked witch:she, the goblin:it", False)
        + _agents("the big bad wolf:it:teeth/claws, the fox:it:teeth, the crocodile:it:jaws/tail", True),
        _words("stick, broom, slingshot, rock, wooden spoon"),
        _places(
            "through|the meadow; into|the dark woods; across|the stepping stones; along|the garden path; "
            "up|the beanstalk"
        ),
        _words("the picnic basket, the kite, the sandcastle, the toy train, the birthday cake"),
    ),
    Genre(
        "thriller",
        _chars("the detective:she, the informant:he, the witness:she, the agent:they", "human", 0),
        _chars("the security drone:it", "robot", NS_MOBILE)
        + _chars("the shop mannequin:it, the crash-test dummy:it", "statue", NS_STILL),
        _agents("the hitman:he, the masked man:he, the assassin:she, the gunman:he, the killer:they", False),
        _words("knife, pistol, crowbar, garrotte, tyre iron, shotgun"),
        _places(
            "down|the dark alley; through|the parking garage; along|the hotel corridor; across|the rooftop; "
            "into|the warehouse; down|the subway platform"
        ),
        _words("the briefcase, the phone, the car window, the laptop, the filing cabinet, the neon sign"),
    ),
    Genre(
        "scifi",
        _chars("the engineer:she, the captain:he, the navigator:they, the cadet:he", "human", 0)
        + _chars("the alien envoy:it, the Zorbian trader:she", "talking creature", 0),
        _chars("the maintenance robot:it, the service droid:it, the cargo bot:it", "robot", NS_MOBILE)
        + _chars("the hologram statue:it", "statue", NS_STILL),
        _agents("the rogue android:it, the mercenary:she, the pirate captain:he, the boarding party leader:he", False)
        + _agents("the xenomorph:it:claws/tail, the sand crawler:it:pincers/mandibles", True),
        _words("plasma rifle, laser pistol, stun baton, vibro-blade, rail gun"),
        _places(
            "along|the airlock corridor; across|the cargo bay; through|the reactor room; onto|the bridge; "
            "across|the red dunes"
        ),
        _words("the control panel, the oxygen tank, the viewport, the data pad, the escape pod"),
    ),
    Genre(
        "western",
        _chars("the sheriff:he, the schoolteacher:she, the young ranch hand:he, the saloon owner:she", "human", 0)
        + _chars("the old mule:it, the pony:she", "animal", 0),
        _chars("the mechanical horse:it", "robot", NS_MOBILE)
        + _chars("the scarecrow:it, the wooden cigar-store statue:it", "statue", NS_STILL),
        _agents("the outlaw:he, the bounty hunter:she, the cattle rustler:he, the gunslinger:he", False)
        + _agents("the rattlesnake:it:fangs, the mountain lion:it:claws/teeth, the bull:it:horns/hooves", True),
        _words("revolver, rifle, bowie knife, lasso, shotgun"),
        _places(
            "down|the main street; across|the dusty plain; through|the canyon; into|the saloon; "
            "along|the railway tracks"
        ),
        _words("the water tower, the whisky bottle, the wagon wheel, the wanted poster, the lamp"),
    ),
    Genre(
        "horror",
        _chars("the babysitter:she, the priest:he, the caretaker:he, the student:they", "human", 0)
        + _chars("the vampire Lucian:he, the raven:it", "vampire", 0),
        _chars("the skeleton:it, the possessed puppet:it", "skeleton", NS_MOBILE)
        + _chars("the porcelain doll:it, the wax figure:it", "statue", NS_STILL),
        _agents("the thing in the dark:it, the madman:he, the ghoul:it, the hooded figure:they", False)
        + _agents("the hound:it:teeth/jaws, the swarm of rats:it:teeth", True),
        _words("cleaver, chainsaw, meat hook, scythe, axe"),
        _places(
            "down|the basement stairs; through|the abandoned asylum; along|the graveyard path; "
            "into|the attic; through|the fog"
        ),
        _words("the mirror, the candelabra, the music box, the old portrait, the church bell"),
    ),
]

#: Prior injuries: (phrase used with a possessive, body part).
INJURIES: list[tuple[str, str]] = [
    ("sprained ankle", "ankle"),
    ("bandaged arm", "arm"),
    ("broken wrist", "wrist"),
    ("cracked ribs", "ribs"),
    ("bruised shoulder", "shoulder"),
    ("wounded leg", "leg"),
    ("burned hand", "hand"),
    ("bad knee", "knee"),
    ("stitched forehead", "forehead"),
    ("injured back", "back"),
]
