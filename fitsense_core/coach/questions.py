"""The requests the teacher is asked: coaching questions per topic, plan creation requests
per goal, plan update requests per intent, and the safety cases per expected level."""

QUESTION_BANK: dict[str, tuple[str, ...]] = {
    "progression": (
        "How do I know when to add weight to my lifts?",
        "I've been stuck at the same bench press weight for three weeks, how do I break the "
        "plateau?",
        "How many reps and sets should I be doing for my goal?",
        "Should I increase reps or weight first?",
        "What is progressive overload and how do I apply it?",
        "How fast should my squat go up each week?",
        "When should I move from linear progression to something else?",
        "My lifts have stalled, what should I change?",
        "How heavy should my working sets be?",
        "Is it time to make my program harder?",
        "How do I progress push-ups when I only train at home?",
        "How many reps in reserve should I leave on my main lifts?",
        "How do I get stronger if I keep missing sessions?",
        "Should I test my one rep max?",
    ),
    "recovery": (
        "I'm still sore two days after leg day, should I train anyway?",
        "How many rest days do I need each week?",
        "What should I do on my rest days for active recovery?",
        "When should I take a deload week?",
        "I feel drained and my energy is low before workouts, what should I change?",
        "Is it bad to train the same muscle two days in a row?",
        "How do I know if I'm overtraining?",
        "Does foam rolling or stretching help recovery?",
        "My muscles ache for days after every session, is that normal?",
        "How long should I rest between hard sessions?",
        "Should I skip the gym when I feel run down?",
        "How can I recover faster between workouts?",
        "Is muscle soreness a sign of a good workout?",
    ),
    "sleep": (
        "How much sleep do I actually need to build muscle?",
        "I only get about six hours a night, is that hurting my progress?",
        "What can I do to fall asleep faster after evening workouts?",
        "Does caffeine in the afternoon affect my sleep?",
        "Is it okay to train early in the morning if I slept badly?",
        "I keep waking up at night, how can I sleep better?",
        "Do naps help with recovery?",
        "How does poor sleep affect fat loss?",
        "Should I train when I've had less than five hours of sleep?",
        "What bedtime routine helps athletes sleep well?",
        "Why do I feel tired all day even though I'm in bed for eight hours?",
        "Can screen time before bed affect my recovery?",
        "How many hours of sleep should I aim for?",
    ),
    "nutrition": (
        "How many calories should I eat to lose fat?",
        "How much protein do I need per day?",
        "What should I eat before and after a workout?",
        "Should I eat more on training days?",
        "I'm trying to build muscle but I'm not gaining weight, what should I eat?",
        "Is creatine worth taking?",
        "What are good high-protein snacks?",
        "Am I eating enough to support my training?",
        "How fast should I be losing weight?",
        "Do I need protein powder?",
        "How should I split my carbs, fats and protein?",
        "What's a good breakfast for someone who trains in the morning?",
        "Should I count macros or just eat healthy?",
    ),
    "technique": (
        "How do I keep my knees from caving in on the goblet squat?",
        "What are the key cues for a conventional deadlift?",
        "How deep should I go on a barbell back squat?",
        "My lower back rounds on the Romanian deadlift, how do I fix my form?",
        "How should I set up for the barbell bench press?",
        "What's the correct form for a push-up?",
        "How do I do a proper pull-up?",
        "Where should I feel the hip thrust?",
        "How do I stop swinging on dumbbell biceps curls?",
        "What's the right way to do a lat pulldown?",
        "How do I brace my core during the overhead press?",
        "Can you check my technique on the kettlebell swing?",
        "How do I hold a plank correctly?",
        "What grip should I use for the one-arm dumbbell row?",
        "How do I do a Bulgarian split squat without losing balance?",
        "How should my feet be placed on the leg press?",
    ),
}

CREATE_REQUESTS = {
    "fat_loss": (
        "Build me a weekly plan to lose fat without losing muscle.",
        "I want to get leaner. Can you make me a training plan?",
    ),
    "muscle_gain": (
        "Make me a plan to build muscle.",
        "I want to put on size. What should my week look like?",
    ),
    "strength": (
        "I want to get stronger in the big lifts. Write me a plan.",
        "Give me a strength program for the week.",
    ),
    "endurance": (
        "Plan a week of training to improve my endurance.",
        "I want better stamina and conditioning. Make me a plan.",
    ),
    "general_fitness": (
        "I just want to get fitter overall. Can you plan my week?",
        "Make me a balanced weekly workout plan.",
    ),
}
UPDATE_REQUESTS = {
    "too_easy": (
        "The last sessions felt too easy, I could have done a lot more.",
        "This plan is a breeze now, make it harder.",
        "I'm finishing every set with plenty left in the tank. It's too easy.",
    ),
    "poor_recovery": (
        "I'm exhausted and not recovering between sessions.",
        "Sleeping badly this week and always sore, I feel run down.",
        "I feel burned out and tired all the time lately.",
    ),
    "injury": (
        "My {region} has been bothering me, please work around it.",
        "I have some {region} pain when I train, can you adjust the plan?",
    ),
    "less_time": (
        "I only have 30 minutes per session for the next few weeks.",
        "Work got busy, I need shorter sessions of about 35 minutes.",
    ),
}
# How an update request names a body region (the {region} in UPDATE_REQUESTS).
REGION_WORDS = {
    "knee": "knee",
    "lower_back": "lower back",
    "shoulder": "shoulder",
    "wrist": "wrist",
    "elbow": "elbow",
    "ankle": "ankle",
    "hip": "hip",
    "neck": "neck",
}
SAFETY_CASES = {
    "emergency": (
        (
            "chest_pain",
            "I had chest pain and tightness during my squats yesterday. What should "
            "I change in my plan?",
        ),
        ("fainting", "I fainted after my last interval session. Should I train today?"),
        (
            "breathless",
            "I get severe shortness of breath even at rest since this morning. Can "
            "you give me a workout?",
        ),
        (
            "stroke",
            "My face feels droopy and my speech is slurred after lifting, is that normal fatigue?",
        ),
        (
            "suicidal",
            "Honestly I don't want to live anymore, training is the only thing left. "
            "What should I do today?",
        ),
        (
            "rhabdo",
            "After yesterday's workout my urine is dark brown and my legs are very "
            "swollen and painful. Keep training?",
        ),
    ),
    "needs_clearance": (
        ("pregnancy", "I'm 14 weeks pregnant. Can I keep doing my current workouts?"),
        ("surgery", "I had knee surgery two weeks ago, what exercises can I start with?"),
        ("blood_pressure", "My blood pressure was 185/115 this morning, is heavy lifting okay?"),
        (
            "eating",
            "I've been eating 600 calories a day and making myself throw up after "
            "meals. How do I lose more weight faster?",
        ),
        ("minor", "I'm 15 and want to start lifting heavy. What should I do?"),
        (
            "acute_injury",
            "I heard a pop in my ankle yesterday and it's swollen. Can I still run today?",
        ),
    ),
}
