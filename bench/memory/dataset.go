package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The data set: fictional users who, over several chat sessions, tell the
// assistant facts about themselves (the evidence) among many other
// remarks that share the facts' words (the distractors). Each fact has a
// question that paraphrases it without giving the answer away. Everything
// follows from the seed.

// category is one kind of fact: how a user states it, how one asks about
// it, and remarks that sound like it but are not it.
type category struct {
	name       string
	values     []string
	statements []string // %[1]s is the value, %[2]s the extra (pet kind, sibling)
	questions  []string // %[2]s is the extra
	// distractors: %[1]s is another value of the category, %[2]s the
	// user's extra, %[3]s another extra.
	distractors []string
	extras      []string
}

var categories = []category{
	{
		name:   "pet",
		values: []string{"Biscuit", "Pepper", "Juniper", "Mochi", "Rufus", "Clementine", "Waffles", "Ziggy", "Nutmeg", "Pickles", "Bramble", "Tofu", "Hazel", "Oscar", "Pumpkin", "Sprocket", "Willow", "Noodle", "Cosmo", "Marble"},
		extras: []string{"dog", "cat", "parrot", "rabbit", "tortoise"},
		statements: []string{
			"My %[2]s is called %[1]s.",
			"I have a %[2]s named %[1]s.",
			"%[1]s is the name of my %[2]s, a rescue from the shelter.",
		},
		questions: []string{
			"What is my %[2]s called?",
			"What's the name of my %[2]s?",
			"Remind me what I named my pet.",
		},
		distractors: []string{
			"My neighbour's %[3]s is called %[1]s and makes noise all night.",
			"I'm thinking about getting a %[3]s for the kids.",
			"A %[2]s followed me home from the park today.",
		},
	},
	{
		name:   "city",
		values: []string{"Lisbon", "Tromsø", "Valparaíso", "Osaka", "Tbilisi", "Ghent", "Halifax", "Cusco", "Ljubljana", "Hobart", "Bergen", "Marrakesh", "Tallinn", "Cork", "Da Nang", "Quito", "Gdańsk", "Nagoya", "Adelaide", "Porto"},
		statements: []string{
			"I live in %[1]s now.",
			"I moved to %[1]s last year.",
			"Home for me is %[1]s these days.",
		},
		questions: []string{
			"Which city do I live in?",
			"Where is home for me at the moment?",
			"Where did I move to?",
		},
		distractors: []string{
			"We might travel to %[1]s in the spring.",
			"My best friend lives in %[1]s.",
			"I've never been to %[1]s but the photos look lovely.",
		},
	},
	{
		name:   "job",
		values: []string{"nurse", "carpenter", "data analyst", "architect", "pharmacist", "welder", "translator", "physiotherapist", "baker", "air traffic controller", "librarian", "electrician", "veterinarian", "sound engineer", "geologist", "tax advisor", "chef", "paramedic", "surveyor", "teacher"},
		statements: []string{
			"I work as a %[1]s.",
			"My job is being a %[1]s at the local hospital trust.",
			"I've been a %[1]s for ten years now.",
		},
		questions: []string{
			"What do I do for work?",
			"What is my job?",
			"What's my profession?",
		},
		distractors: []string{
			"My cousin works as a %[1]s.",
			"I once thought about becoming a %[1]s.",
			"Work has been really busy this month.",
		},
	},
	{
		name:   "allergy",
		values: []string{"peanuts", "shellfish", "penicillin", "bee stings", "pollen", "sesame", "latex", "kiwi", "dust mites", "strawberries", "eggs", "walnuts"},
		statements: []string{
			"I'm allergic to %[1]s.",
			"I have a serious allergy to %[1]s.",
			"%[1]s give me a bad reaction, so I avoid them.",
		},
		questions: []string{
			"What am I allergic to?",
			"Which allergy do I have?",
			"Is there anything that gives me a bad reaction?",
		},
		distractors: []string{
			"My friend is allergic to %[1]s.",
			"Allergy season is starting again.",
			"The restaurant asked if anyone at the table had allergies.",
		},
	},
	{
		name:   "birthday",
		values: dates(),
		statements: []string{
			"My birthday is on %[1]s.",
			"I was born on %[1]s.",
			"I celebrate my birthday every year on %[1]s.",
		},
		questions: []string{
			"When is my birthday?",
			"What is my date of birth?",
			"When was I born?",
		},
		distractors: []string{
			"My mother's birthday is on %[1]s.",
			"I need to buy a birthday present for a colleague.",
			"My friend and I were born in the same hospital.",
		},
	},
	{
		name:   "sibling",
		values: []string{"Ingrid", "Tomasz", "Priya", "Mateo", "Aiko", "Sven", "Leila", "Dmitri", "Nadia", "Kofi", "Rosa", "Anders", "Yusuf", "Maren", "Chidi", "Elif"},
		extras: []string{"sister", "brother"},
		statements: []string{
			"My %[2]s's name is %[1]s.",
			"I have a %[2]s called %[1]s.",
			"%[1]s, my younger %[2]s, is visiting next month.",
		},
		questions: []string{
			"What is my %[2]s's name?",
			"What is my %[2]s called?",
			"Who is my sibling?",
		},
		distractors: []string{
			"My friend's %[3]s is called %[1]s.",
			"My %[2]s's kids are staying over this weekend.",
			"I called my %[2]s yesterday but nobody answered.",
		},
	},
	{
		name:   "car",
		values: []string{"Volvo estate", "Toyota Prius", "Fiat Panda", "Tesla Model 3", "Subaru Outback", "Renault Clio", "VW camper van", "Mazda MX-5", "Skoda Octavia", "Honda Jazz"},
		statements: []string{
			"I drive a %[1]s.",
			"My car is a %[1]s.",
			"I finally bought a %[1]s to get around.",
		},
		questions: []string{
			"What car do I drive?",
			"What kind of car do I have?",
			"What vehicle do I own?",
		},
		distractors: []string{
			"My neighbour drives a %[1]s.",
			"The car needs a service soon.",
			"I rented a %[1]s on holiday.",
		},
	},
	{
		name:   "instrument",
		values: []string{"cello", "banjo", "trumpet", "ukulele", "harp", "drums", "clarinet", "accordion", "violin", "saxophone"},
		statements: []string{
			"I play the %[1]s in a small band.",
			"I've been learning the %[1]s on weekends.",
			"Practising the %[1]s is how I relax.",
		},
		questions: []string{
			"Which instrument do I play?",
			"What am I learning to play?",
			"What music do I make?",
		},
		distractors: []string{
			"I went to a concert where someone played the %[1]s.",
			"My niece is learning to play the %[1]s.",
			"I used to play the %[1]s as a child, but I stopped.",
		},
	},
	{
		name:   "food",
		values: []string{"ramen", "paella", "moussaka", "pierogi", "pad thai", "lasagne", "shakshuka", "pho", "ceviche", "biryani"},
		statements: []string{
			"My favourite food is %[1]s.",
			"I could eat %[1]s every single day.",
			"Nothing beats a good plate of %[1]s for me.",
		},
		questions: []string{
			"What is my favourite food?",
			"What dish do I love most?",
			"What could I eat every day?",
		},
		distractors: []string{
			"We ordered %[1]s for the office lunch.",
			"I'm trying to eat less %[1]s.",
			"My partner's favourite food is %[1]s.",
		},
	},
	{
		name:   "language",
		values: []string{"Portuguese", "Japanese", "Icelandic", "Swahili", "Korean", "Polish", "Arabic", "Finnish", "Greek", "Turkish"},
		statements: []string{
			"I'm learning %[1]s.",
			"I take %[1]s lessons twice a week.",
			"I've started studying %[1]s for an upcoming trip.",
		},
		questions: []string{
			"Which language am I learning?",
			"What language am I studying?",
			"What lessons am I taking?",
		},
		distractors: []string{
			"A colleague speaks fluent %[1]s.",
			"I gave up learning %[1]s years ago.",
			"The film was in %[1]s with subtitles.",
		},
	},
}

// neutral remarks share no fact's subject.
var neutral = []string{
	"Remind me to call the bank tomorrow.",
	"The weather has been terrible this week.",
	"I need new running shoes.",
	"Can you help me plan a weekly budget?",
	"I'm reading a novel about a lighthouse keeper.",
	"The train was late again this morning.",
	"I should really get more sleep.",
	"Let's write a shopping list for the weekend.",
}

func dates() []string {
	months := []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	var out []string
	for i, m := range months {
		out = append(out, fmt.Sprintf("%d %s", 3+i*2, m), fmt.Sprintf("%d %s", 28-i, m))
	}
	return out
}

var firstNames = []string{"Ada", "Bruno", "Chiara", "Dev", "Elena", "Farid", "Greta", "Hugo", "Isla", "Jonas",
	"Kira", "Luca", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rhea", "Sami", "Tessa",
	"Ugo", "Vera", "Wren", "Xavi", "Yara", "Zane"}

// utterance is one thing a user said in one session, to be remembered.
type utterance struct {
	session int
	text    string
	// fact is the index into user.facts when this utterance states one,
	// else -1.
	fact int
}

// fact is one piece of evidence and the question that asks for it.
type fact struct {
	category string
	value    string
	question string
	// variant is which question template (0 uses the fact's own words
	// most, 2 least).
	variant int
}

type user struct {
	name       string
	facts      []fact
	utterances []utterance
}

// generate builds the data set: users × (one fact per category + three
// distractors per category + neutral remarks), spread over sessions.
func generate(seed uint64, users, sessions int) []user {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	other := func(xs []string, not string) string {
		for {
			if v := pick(xs); v != not {
				return v
			}
		}
	}
	out := make([]user, users)
	for i := range out {
		u := &out[i]
		u.name = firstNames[i%len(firstNames)]
		if i >= len(firstNames) {
			u.name += fmt.Sprint(i / len(firstNames))
		}
		for _, c := range categories {
			v := pick(c.values)
			extra, extra2 := "", ""
			if len(c.extras) > 0 {
				extra = pick(c.extras)
				extra2 = pick(c.extras)
			}
			// The question template rotates over users so every
			// category is asked in every phrasing.
			qv := (i + len(u.facts)) % len(c.questions)
			u.facts = append(u.facts, fact{category: c.name, value: v, variant: qv,
				question: fill(c.questions[qv], v, extra, extra2)})
			u.utterances = append(u.utterances, utterance{text: fill(pick(c.statements), v, extra, extra2), fact: len(u.facts) - 1})
			for _, d := range c.distractors {
				u.utterances = append(u.utterances, utterance{text: fill(d, other(c.values, v), extra, extra2), fact: -1})
			}
		}
		for range 6 {
			u.utterances = append(u.utterances, utterance{text: pick(neutral), fact: -1})
		}
		rng.Shuffle(len(u.utterances), func(a, b int) { u.utterances[a], u.utterances[b] = u.utterances[b], u.utterances[a] })
		for j := range u.utterances {
			u.utterances[j].session = j * sessions / len(u.utterances)
		}
	}
	return out
}

// fill formats a template with the value and extras, capitalising the
// first letter (a value may start a sentence).
func fill(tmpl, v, extra, extra2 string) string {
	s := strings.NewReplacer("%[1]s", v, "%[2]s", extra, "%[3]s", extra2).Replace(tmpl)
	return strings.ToUpper(s[:1]) + s[1:]
}
