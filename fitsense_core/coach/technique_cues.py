"""Technique cues: per lift, per movement pattern, and fixes for the faults people ask
about."""

from __future__ import annotations

# Cues for the lifts people ask about most: four cues and the fault to watch for.
TECHNIQUE_CUES: dict[str, tuple[tuple[str, ...], str]] = {
    "barbell_back_squat": (
        (
            "bar on the upper back with elbows under the bar",
            "feet shoulder-width, toes out 15-30°",
            "brace, then sit down between your hips with knees tracking over your toes",
            "drive up through the whole foot, chest and hips rising together",
        ),
        "hips shooting up first out of the bottom",
    ),
    "barbell_front_squat": (
        (
            "bar resting on the front of the shoulders, elbows high",
            "torso upright and knees free to travel forward",
            "sit straight down to depth",
            "lead with the elbows on the way up",
        ),
        "elbows dropping so the bar rolls forward",
    ),
    "goblet_squat": (
        (
            "hold the weight at your chest, elbows pointing down",
            "feet shoulder-width, toes slightly out",
            "sit down between your heels with elbows inside the knees at the bottom",
            "push the floor away and stand tall",
        ),
        "heels lifting or knees drifting inward",
    ),
    "leg_press": (
        (
            "feet shoulder-width in the middle of the platform",
            "lower until the knees are near 90° with the lower back still on the pad",
            "push through the whole foot, knees in line with the toes",
            "stop just short of locking the knees",
        ),
        "going so deep that the pelvis tucks and the lower back lifts off the pad",
    ),
    "conventional_deadlift": (
        (
            "bar over mid-foot, shins close to it",
            "hinge down, grip just outside the legs and pull the slack out of the bar",
            "lats tight, chest proud, then push the floor away",
            "keep the bar against your legs and finish standing tall, not leaning back",
        ),
        "the bar drifting forward and the back rounding",
    ),
    "barbell_romanian_deadlift": (
        (
            "start standing, knees soft, bar against the thighs",
            "push the hips back so the bar slides down the thighs",
            "stop when the hamstrings are stretched and the back is still flat",
            "squeeze the glutes to stand back up",
        ),
        "chasing depth by rounding the lower back",
    ),
    "dumbbell_romanian_deadlift": (
        (
            "dumbbells in front of the thighs, knees soft",
            "push the hips back, dumbbells close to the legs",
            "stop when the hamstrings are stretched and the back is still flat",
            "squeeze the glutes to stand",
        ),
        "rounding the back to reach lower",
    ),
    "barbell_hip_thrust": (
        (
            "upper back on the bench edge at shoulder-blade height",
            "feet flat, shins vertical at the top",
            "chin tucked, drive through the heels until hips line up with shoulders",
            "squeeze the glutes for a second at the top",
        ),
        "arching the lower back instead of finishing with the glutes",
    ),
    "glute_bridge": (
        (
            "lie with knees bent, feet flat and hip-width",
            "ribs down, drive through the heels",
            "lift until knees, hips and shoulders line up",
            "squeeze the glutes for a second at the top",
        ),
        "arching the lower back instead of using the glutes",
    ),
    "kettlebell_swing": (
        (
            "it's a hinge, not a squat: hips back, shins near vertical",
            "hike the bell back high between the thighs",
            "snap the hips forward so the bell floats to chest height",
            "arms stay loose like ropes; the hips do the work",
        ),
        "lifting the bell with the arms or squatting the swing",
    ),
    "barbell_bench_press": (
        (
            "eyes under the bar, shoulder blades pulled back and down",
            "feet planted, a slight natural arch",
            "lower to the lower chest with elbows about 45° from the body",
            "press up and slightly back over the shoulders",
        ),
        "flared elbows and bouncing the bar off the chest",
    ),
    "dumbbell_bench_press": (
        (
            "shoulder blades back and down, feet planted",
            "dumbbells over the chest, wrists stacked over elbows",
            "lower to the sides of the chest, elbows about 45° out",
            "press up and slightly together",
        ),
        "letting the elbows flare out to 90°",
    ),
    "push_up": (
        (
            "hands just wider than the shoulders, body straight from head to heels",
            "squeeze the glutes and brace so the hips don't sag",
            "lower the chest to a fist's height from the floor, elbows about 45°",
            "push the floor away to straight arms",
        ),
        "sagging hips or flared elbows",
    ),
    "barbell_overhead_press": (
        (
            "grip just outside the shoulders, bar on the front of the shoulders",
            "squeeze the glutes and keep the ribs down",
            "press straight up, moving the head back and then through once the bar passes",
            "finish with the bar over mid-foot, arms by the ears",
        ),
        "leaning back so it turns into an incline press",
    ),
    "seated_dumbbell_shoulder_press": (
        (
            "back against the bench, feet planted",
            "dumbbells at shoulder height, forearms vertical",
            "press up and slightly in without arching",
            "lower under control to shoulder height",
        ),
        "arching the lower back off the bench",
    ),
    "pull_up": (
        (
            "grip slightly wider than the shoulders, start from a full hang",
            "pull the shoulder blades down first",
            "drive the elbows toward the ribs until the chin clears the bar",
            "lower under control to a full hang",
        ),
        "half reps and kicking the legs",
    ),
    "chin_up": (
        (
            "palms facing you, shoulder-width grip, full hang",
            "shoulder blades down first",
            "pull the chest toward the bar",
            "lower all the way under control",
        ),
        "cutting the bottom half of the rep",
    ),
    "lat_pulldown": (
        (
            "thighs locked under the pad, grip slightly wider than the shoulders",
            "lean back a little with the chest up",
            "pull the bar to the upper chest, elbows down and back",
            "let the arms straighten fully on the way up",
        ),
        "leaning far back to yank the weight down",
    ),
    "barbell_bent_over_row": (
        (
            "hinge to about 45°, back flat, knees soft",
            "pull the bar to the lower ribs",
            "squeeze the shoulder blades together at the top",
            "lower under control without the torso bouncing",
        ),
        "standing up more each rep to heave the bar",
    ),
    "one_arm_dumbbell_row": (
        (
            "one hand and knee on the bench, back flat",
            "neutral grip, palm facing in",
            "pull the dumbbell toward the hip, not the shoulder",
            "keep the torso square and lower to a full stretch",
        ),
        "twisting the torso to heave the weight",
    ),
    "seated_cable_row": (
        (
            "sit tall with knees soft",
            "pull the handle to the lower ribs",
            "squeeze the shoulder blades together",
            "reach forward with the arms, not by rounding the back",
        ),
        "rocking the torso back and forth",
    ),
    "forward_lunge": (
        (
            "step forward far enough that the front shin stays near vertical",
            "drop the back knee straight down",
            "keep the torso tall",
            "push off the front foot to return",
        ),
        "the front knee collapsing inward",
    ),
    "reverse_lunge": (
        (
            "step back into a long stance",
            "drop the back knee toward the floor",
            "most weight on the front foot",
            "drive through the front heel to stand",
        ),
        "short steps that push the front knee far forward",
    ),
    "dumbbell_bulgarian_split_squat": (
        (
            "rear foot laces-down on the bench, front foot a long stride ahead",
            "dumbbells at your sides, slight forward lean",
            "lower straight down until the front thigh is near parallel",
            "drive through the front foot",
        ),
        "a stance so short that the front heel lifts",
    ),
    "plank": (
        (
            "elbows under the shoulders",
            "a straight line from head to heels",
            "squeeze the glutes and pull the ribs down",
            "breathe steadily and stop when the position breaks",
        ),
        "hips sagging or piking up",
    ),
    "dead_bug": (
        (
            "lower back gently pressed to the floor",
            "arms up, knees over hips",
            "reach the opposite arm and leg away slowly",
            "breathe out as you reach",
        ),
        "the lower back arching off the floor",
    ),
    "farmers_carry": (
        (
            "pick the weights up with a hinge, not a rounded back",
            "stand tall, shoulders down",
            "short, steady steps",
            "grip hard and keep breathing",
        ),
        "leaning or shrugging under the load",
    ),
    "dumbbell_biceps_curl": (
        (
            "stand tall, elbows pinned at your sides",
            "curl without the elbows drifting forward",
            "squeeze at the top",
            "take 2-3 seconds to lower",
        ),
        "swinging the torso to move the weight",
    ),
    "cable_triceps_pushdown": (
        (
            "elbows at your sides",
            "push down until the arms are straight",
            "only the forearms move",
            "control the return",
        ),
        "leaning over the bar to push with the body",
    ),
    "dumbbell_lateral_raise": (
        (
            "slight bend in the elbows",
            "raise out to the sides to shoulder height",
            "lead with the elbows",
            "lower slowly",
        ),
        "shrugging or swinging the weights up",
    ),
    "cable_face_pull": (
        (
            "rope at upper-chest to face height",
            "pull toward the face, hands apart",
            "finish with the elbows high and hands beside the ears",
            "control the return",
        ),
        "pulling low with the elbows down",
    ),
}

# Generic cues for everything without its own entry.
PATTERN_CUES: dict[str, tuple[tuple[str, ...], str]] = {
    "squat": (
        (
            "feet about shoulder-width, whole foot in contact",
            "knees track in line with the toes",
            "torso braced, sit down between the hips",
            "stand up by pushing the floor away",
        ),
        "knees caving or heels lifting",
    ),
    "hinge": (
        (
            "push the hips back, shins near vertical",
            "keep a flat back from head to hips",
            "keep the load close to the body",
            "finish by squeezing the glutes, not leaning back",
        ),
        "rounding the back to reach lower",
    ),
    "lunge": (
        (
            "take a long enough stride for a stable base",
            "lower the back knee straight down",
            "front knee in line with the toes",
            "drive through the front foot",
        ),
        "the front knee collapsing inward",
    ),
    "horizontal_push": (
        (
            "shoulder blades set back and down",
            "elbows about 45° from the body",
            "control the lowering",
            "press to straight arms without shrugging",
        ),
        "flared elbows and a shortened range",
    ),
    "vertical_push": (
        (
            "ribs down and glutes tight",
            "press straight up with forearms vertical",
            "finish with the arms by the ears",
            "lower under control",
        ),
        "arching the lower back to finish the rep",
    ),
    "horizontal_pull": (
        (
            "torso still and back flat",
            "lead with the elbows",
            "squeeze the shoulder blades together",
            "lower to a full stretch",
        ),
        "using body swing to move the weight",
    ),
    "vertical_pull": (
        (
            "start with straight arms",
            "pull the shoulder blades down first",
            "drive the elbows down toward the ribs",
            "control the return to straight arms",
        ),
        "partial reps and leaning back",
    ),
    "carry": (
        (
            "stand tall, ribs down",
            "shoulders away from the ears",
            "short, steady steps",
            "keep breathing",
        ),
        "leaning toward the weight",
    ),
    "core": (
        (
            "ribs down and lower back neutral",
            "move slowly",
            "breathe out on the effort",
            "stop the set when the position breaks",
        ),
        "the lower back arching",
    ),
    "isolation": (
        (
            "move only at the working joint",
            "take 2-3 seconds to lower",
            "pause briefly at the hardest point",
            "no swinging or body English",
        ),
        "using momentum instead of the target muscle",
    ),
    "locomotion": (
        (
            "start at an easy, conversational effort",
            "stay relaxed through the shoulders",
            "keep a steady rhythm",
            "build duration before intensity",
        ),
        "going too hard too early",
    ),
    "mobility": (
        (
            "move slowly into the position",
            "breathe out as you ease deeper",
            "stay in a mild stretch, never pain",
            "keep the rest of the body still",
        ),
        "forcing the end range",
    ),
}


TECHNIQUE_FIXES: tuple[tuple[str, str], ...] = (
    (
        r"knees? cav\w*|caving",
        "Knees caving: push them out over your toes, keep the whole foot planted and lighten "
        "the load until you own that position on every rep.",
    ),
    (
        r"\brounds?\b|rounding",
        "A rounding lower back means the range or load is beyond your control right now: stop "
        "each rep where your back is still flat, brace first and take some weight off.",
    ),
    (
        r"\bdeep\b|\bdepth\b",
        "Depth: go as low as you can with a flat back and heels down — for most people thighs "
        "at or just below parallel — and only as deep as stays pain-free.",
    ),
    (
        r"swinging",
        "Swinging means the weight is too heavy: drop about 20%, pin the elbows and take "
        "2-3 seconds to lower.",
    ),
    (
        r"balance",
        "For balance, hold a support with one hand at first, fix your gaze on one point and "
        "lengthen the stance.",
    ),
    (
        r"\bgrip\b",
        "Grip: choose the grip that keeps your wrist straight and pain-free.",
    ),
    (
        r"where should i feel|feel (it|the)",
        "You should feel the target muscle working hardest; if you feel it elsewhere, go "
        "lighter, slow down and pause at the hardest point.",
    ),
    (
        r"\bfeet\b|placed|stance",
        "Place your feet so the knees track over the toes through the whole rep; "
        "shoulder-width is the starting point.",
    ),
)
