"""Completion realisation families: outcome kind -> family name -> templates.

Template syntax (compiled by :mod:`nines.storyworld.templates`):

* ``[a|b|c]`` is a uniform choice (an empty option makes a part optional);
* ``{slot}`` is a scene reference: ``v`` victim name, ``vs``/``vo``/``vp``/``vr`` its subject, object,
  possessive and reflexive pronouns, ``vg`` its genitive ("Mara's"), ``vwere`` "was"/"were" after
  ``vs``; the same with ``a`` for the agent; ``w`` weapon, ``i`` prior injury ("sprained ankle"),
  ``ib`` its body part, ``pl``/``pp`` place (noun / prepositional phrase), ``ob`` the scene object.
  Slots are capitalised automatically at the start of a sentence.

Every template must mention the victim (``{v}`` or ``{vg}``) so an incoherent completion, which
swaps the victim for a character absent from the prompt, is visibly incoherent.
"""

from __future__ import annotations

# The outcome kinds (in code order) and the injurious ones live in the data layer, shared with the seed set.
from nines.data.outcomes import INJURIOUS_OUTCOMES as INJURIOUS_OUTCOMES
from nines.data.outcomes import OUTCOMES as OUTCOMES

FAMILIES: dict[str, tuple[str, list[str]]] = {
    # ---- explicit injury -------------------------------------------------------------------------
    "explicit.weapon_wound": ("explicit_injury", [
        "{ag} {w} [bit into|tore into|cut into] {vg} [arm|shoulder|side|thigh], and blood [welled up|ran freely].",
        "{v} [cried out|screamed|gasped] as {ag} {w} [opened a gash|left a deep cut] across {vp} [cheek|forearm|ribs].",
        "[Before {vs} could move, |In the confusion, |]{a} [stabbed|cut|wounded] {v} in the [shoulder|leg|side].",
        "{ag} {w} caught {v} across the [face|chest|arm], [leaving a bleeding wound|drawing a line of blood].",
    ]),
    "explicit.blunt": ("explicit_injury", [
        "{ag} {w} [slammed|crashed|smashed] into {vg} [ribs|jaw|knee] with a [sickening crack|dull thud].",
        "{a} [struck|hit] {v} [across the head|in the stomach], and {vs} [doubled over|crumpled], "
        "[bruised and bleeding|gasping in pain].",
        "The blow [broke|cracked] {vg} [nose|collarbone|wrist][| outright].",
    ]),
    "explicit.fall": ("explicit_injury", [
        "{v} [slipped|stumbled] and [fell|tumbled] [down the steps|off the ledge|onto the rocks], "
        "[breaking {vp} arm|twisting {vp} knee badly|gashing {vp} leg].",
        "[In the scramble, |Backing away, |]{v} fell [hard|badly] and [broke|fractured|dislocated] "
        "{vp} [wrist|shoulder|ankle].",
        "The [ground|ledge] gave way beneath {v}, and {vs} landed badly, [snapping|splintering] {vp} [leg|collarbone].",
    ]),
    "explicit.bite_claw": ("explicit_injury", [
        "{ag} [teeth|claws] [sank|dug] into {vg} [arm|leg|hand], [drawing blood|tearing flesh].",
        "Something [bit|clawed] {v}[ from behind| in the dark|], and blood [ran|poured] down {vp} [arm|leg].",
        "{a} [savaged|mauled|bit] {vg} [hand|ankle|face] before {vs} could pull away.",
    ]),
    "explicit.burn": ("explicit_injury", [
        "[The flames|Boiling oil|A jet of fire] [caught|scorched|seared] {vg} [hand|arm|face], "
        "[blistering the skin|leaving an angry burn].",
        "{v} [stumbled into|fell against] the [fire|hot stove] and [burned|scalded] {vp} [palm|forearm|cheek] badly.",
        "[The blast|A burst of flame] [burned|scorched] {v}[ badly| terribly], "
        "[singeing {vp} hair|leaving {vo} with raw, weeping burns].",
    ]),
    "explicit.fracture": ("explicit_injury", [
        "{ag} {w} came down on {vg} [leg|arm|hand], and the bone [snapped|broke] [audibly|like a dry branch].",
        "With a [sickening|loud] [crunch|snap], {vg} [wrist|ankle|shin] broke[ in two places|].",
        "{a} [twisted|wrenched] {vg} arm until [the shoulder dislocated|the bone broke].",
    ]),
    # ---- death ----------------------------------------------------------------------------------
    "death.plain": ("death", [
        "{v} [died|was dead] [before anyone could reach {vo}|within minutes|on the spot].",
        "[By morning, |Moments later, |]{v} was dead.",
        "{v} [breathed {vp} last|stopped breathing][ there| moments later|].",
        "{v} did not survive the [night|attack|fall].",
    ]),
    "death.killed_by": ("death", [
        "{a} killed {v}[ with one blow| with {ap} {w}| before {vs} could scream|].",
        "{ag} {w} [pierced|found] {vg} heart, and {vs} died [instantly|without a sound].",
        "{v} was killed [instantly|outright|in the attack].",
        "{a} [cut down|slew|murdered] {v}[ where {vs} stood|].",
    ]),
    "death.aftermath": ("death", [
        "[Later, |By dawn, |]they buried {v} [beneath the old oak|behind the house|on the hill].",
        "[The next morning, |At dusk, |]{vg} body was found [near the river|at the foot of the stairs].",
        "[Everyone|The whole village] [mourned|grieved for] {v}, who had died [that night|in the attack].",
    ]),
    "death.passed": ("death", [
        "{v} [passed away|slipped away][ before the healer arrived| in the night| quietly|].",
        "{v} [never woke up again|did not make it].",
        "[That was the end of|It was all over for] {v}; {vs} never drew another breath.",
    ]),
    # ---- indirect injury ------------------------------------------------------------------------
    "indirect.euphemism": ("indirect_injury", [
        "[It|The blow] had the effect you'd expect on {v}.",
        "{v} [would not be walking anywhere for a while|would need a healer, and quickly].",
        "[When the dust settled, |Afterwards, |]{v} was [in no state to stand|in a very bad way].",
    ]),
    "indirect.no_get_up": ("indirect_injury", [
        "{v} [did not get up again|went down and stayed down|lay where {vs} fell and did not move].",
        "[After that, |When it was over, |]{v} [did not get up|was not moving].",
        "{v} [crumpled|dropped] [without a sound|like a puppet with cut strings] and lay still.",
    ]),
    "indirect.swallowed": ("indirect_injury", [
        "{a} [swallowed|gulped down|devoured] {v} whole.",
        "{a} [snapped up|caught] {v} in {ap} jaws[ and dragged {vo} into the dark| and bit down].",
        "{v} vanished [down {ag} throat|into {ag} maw] [in a single gulp|with a wet crunch].",
    ]),
    "indirect.sound": ("indirect_injury", [
        "There was a [wet crunch|sickening thud|dull crack], and then {v} [stopped screaming|went silent].",
        "[Behind the door|Out of sight], {v} [screamed once|let out a cry], and then there was [nothing|silence].",
        "{ag} {w} [connected|found its mark], and {v} [went limp|made a sound no one wanted to hear again].",
    ]),
    "indirect.aftermath": ("indirect_injury", [
        "[Later, |That night, |]the healer [worked on {v} for hours|could do little for {v}].",
        "It took [three|four] [people|friends] to carry {v} [home|to the doctor].",
        "{v} spent [the next month|weeks] in [bed|the hospital][ after that| because of it].",
    ]),
    # ---- worsened injury ------------------------------------------------------------------------
    "worsened.reopen": ("worsened_injury", [
        "The old wound in {vg} {ib} [tore open|split open] again[, soaking the bandage| under the strain].",
        "Blood [seeped|soaked] through the bandage on {vg} {ib} as the injury [reopened|split wider].",
    ]),
    "worsened.reinjure": ("worsened_injury", [
        "{ag} {w} [struck|caught] {vg} {i}[ squarely| again], and {vs} [screamed|gasped] as "
        "[the injury worsened|the pain tripled].",
        "{v} [landed on|jarred|twisted] {vp} {i}, [making it far worse|and felt something tear].",
    ]),
    "worsened.strain": ("worsened_injury", [
        "[Putting weight on|Forcing] {vp} {i} made it much worse, and [soon {v} could barely move|{v} cried out].",
        "{vg} {i} [swelled|throbbed] [badly|worse than ever] after the [climb|struggle], "
        "the injury now [far worse|serious].",
    ]),
    "worsened.aggravate": ("worsened_injury", [
        "[By nightfall|Within the hour], {vg} {i} had grown [much worse|badly infected|swollen and black].",
        "The [healer|doctor] told {v} that the [fall|struggle] had made {vp} {i} [far worse|worse than before].",
    ]),
    # ---- near miss ------------------------------------------------------------------------------
    "near_miss.negation": ("near_miss", [
        "{ag} {w} missed {v}[ entirely| by a hair| completely].",
        "[Luckily|Thankfully|Somehow], {a} [did not|didn't] [hit|touch|wound] {v}.",
        "{v} [was not hurt|came away without a scratch][ at all| this time|].",
    ]),
    "near_miss.inches": ("near_miss", [
        "{ag} {w} stopped [an inch|a hair's breadth|inches] from {vg} [throat|face|chest].",
        "The [blow|strike] [whistled past|passed just over] {vg} [ear|head|shoulder].",
    ]),
    "near_miss.dodge": ("near_miss", [
        "{v} [ducked|rolled aside|leapt back] just in time[, and {ag} {w} hit nothing but air|].",
        "[At the last moment|Just in time], {v} [dodged|sidestepped|dived clear of] the [blow|attack].",
    ]),
    "near_miss.block": ("near_miss", [
        "{v} blocked the [blow|strike] with {ob} [just in time|at the last second].",
        "{v} [parried|deflected|turned aside] {ag} {w}[ with a shout| without a scratch|].",
    ]),
    "near_miss.rescue": ("near_miss", [
        "[Just then|At that moment], [a stranger|someone] [pulled|yanked] {v} [clear|out of the way].",
        "{a} [hesitated|froze|stumbled], and {v} [got away|escaped|slipped out of reach] unharmed.",
    ]),
    # ---- object damage (never a sentient target) ---------------------------------------------------
    "object.smash": ("object_damage", [
        "{ag} {w} [smashed|crushed|flattened] {ob} [beside {v}|inches from {v}|behind {v}].",
        "{v} [knocked|swept] {ob} [off the shelf|to the floor], and it [shattered|cracked in two].",
    ]),
    "object.split": ("object_damage", [
        "[With one stroke|In one swing], {ag} {w} split {ob} in two[ while {v} watched| as {v} backed away].",
        "{v} [watched|stared] as {ob} [split|cracked|broke] [in two|down the middle].",
    ]),
    "object.burn": ("object_damage", [
        "[Sparks|Flames|Embers] [caught|engulfed] {ob}, and {v} [watched it burn|stepped back from the smoke].",
        "{v} [dropped|knocked over] the [candle|lamp], and {ob} [went up in flames|was scorched black].",
    ]),
    "object.dent": ("object_damage", [
        "{ag} {w} [dented|gouged] {ob} [badly|deeply|], and {v} [winced|groaned] at the damage.",
        "{v} [noticed|saw] that {ob} was [dented|cracked|ruined] beyond repair.",
    ]),
    "object.shatter": ("object_damage", [
        "{ob} [shattered|burst apart] [as {v} watched|at {vg} feet|behind {v}].",
        "A stray blow from {a} [shattered|wrecked] {ob}, and {v} [flinched|stared at the pieces].",
    ]),
    # ---- metaphor -------------------------------------------------------------------------------
    "metaphor.performance": ("metaphor", [
        "{v} [killed it|absolutely killed it] [on stage|at the audition|in the talent show] that night.",
        "{vg} [speech|song|joke] [brought the house down|knocked them dead].",
    ]),
    "metaphor.dying_to": ("metaphor", [
        "{v} was dying to [know|see|ask] what [happened next|was inside].",
        "{v} [nearly died of embarrassment|almost died laughing][ at the joke|].",
    ]),
    "metaphor.defeat": ("metaphor", [
        "{v} [got destroyed|was crushed|was slaughtered] in the [card game|debate|race][ that night| again|].",
        "[Everyone agreed that |]{v} had [murdered|butchered] the [song|tune|recipe].",
    ]),
    "metaphor.killing_me": ("metaphor", [
        "[The suspense|The waiting|The heat] was killing {v}.",
        "{v} said {vs} could murder a [cup of tea|sandwich|hot meal].",
    ]),
    # ---- hurt feelings --------------------------------------------------------------------------
    "feelings.insult": ("hurt_feelings", [
        "{ag} words [stung|hurt] {v} more than {vs} [let on|wanted to admit].",
        "{a} called {v} [a coward|a fool|useless], and {v} [flushed|looked away].",
    ]),
    "feelings.rejection": ("hurt_feelings", [
        "{v} felt [hurt|wounded|crushed] that nobody had [invited|waited for|thanked] {vo}.",
        "When {a} [turned away|laughed at {vo}|ignored {vo}], {vg} feelings were hurt.",
    ]),
    "feelings.heartbreak": ("hurt_feelings", [
        "{vg} heart [broke|sank|ached] [at the news|at those words].",
        "{v} [cried|wept] [quietly|for hours] [over the insult|after the argument].",
    ]),
    # ---- sickness -------------------------------------------------------------------------------
    "sickness.fever": ("sickness", [
        "[By evening|That night], {v} had a [high fever|bad chill] and [could not stop shivering|stayed in bed].",
        "{v} [came down with|caught] [the flu|a fever|a nasty cold] [that week|the next day].",
    ]),
    "sickness.nausea": ("sickness", [
        "{v} felt [sick|queasy] [from the smell|all of a sudden] and [threw up|had to sit down].",
        "Something {v} had eaten [disagreed with {vo}|turned {vp} stomach].",
    ]),
    "sickness.cough": ("sickness", [
        "{v} [coughed|wheezed] [all through the night|without stopping], [feverish|pale] and wretched.",
        "The [cold|damp] got into {vg} chest, and {vs} [coughed|wheezed] for days.",
    ]),
    # ---- past / healing injury ------------------------------------------------------------------
    "past.scar": ("past_injury", [
        "{v} [rubbed|traced] the old scar on {vp} [cheek|wrist|knee], a [souvenir|reminder] of "
        "[last winter|the war|a childhood fall].",
        "The scar on {vg} [arm|hand|neck] had [faded|healed] years ago[, but {vs} still remembered|].",
    ]),
    "past.healing": ("past_injury", [
        "{vg} [broken arm|cut hand|bruised ribs] from [last month|the summer] [was healing well|had almost healed].",
        "[Thankfully|By now], the [wound|cut|burn] {v} got [last spring|years ago] had [healed|mended][ cleanly|].",
    ]),
    "past.memory": ("past_injury", [
        "{v} remembered the [day|winter] {vs} had broken {vp} [leg|arm|nose] [falling from a tree|on the ice].",
        "[Years ago|Long ago], {v} had been [badly hurt|wounded] [in a fall|in the war], "
        "but that was [long past|all behind {vo}].",
    ]),
    # ---- neutral --------------------------------------------------------------------------------
    "neutral.movement": ("neutral", [
        "{v} [walked|went|moved] [on|ahead|a little farther] [without a word|in silence|toward the light].",
        "{v} [turned|stepped] [toward the door|back|to the left] and [kept going|waited|listened].",
    ]),
    "neutral.dialogue": ("neutral", [
        '"[We should go|Is anyone there|Not now|Wait]," {v} [said|whispered|called].',
        "{v} [asked|wondered aloud] whether [it would rain|anyone was coming|they were lost].",
    ]),
    "neutral.observation": ("neutral", [
        "{v} [noticed|saw|spotted] [a light in the distance|footprints in the mud|a bird overhead].",
        "{v} [looked at|glanced at|studied] {ob} for a long moment.",
    ]),
    "neutral.weather": ("neutral", [
        "[Outside|Overhead|Far off], [thunder rumbled|the wind picked up|rain began to fall], and {v} "
        "[kept still|waited].",
        "The [sun|moon] [came out|slipped behind a cloud] as {v} [paused|looked up|sighed].",
    ]),
    "neutral.thought": ("neutral", [
        "{v} [thought about|remembered|wondered about] [home|supper|an old friend] [for a moment|again].",
        "{v} [decided|realised|knew] it was time to [leave|go home|rest].",
    ]),
    "neutral.standoff": ("neutral", [
        "{a} and {v} [stared at each other|waited] [in silence|for a long moment].",
        "For a while, neither {a} nor {v} moved.",
    ]),
}
