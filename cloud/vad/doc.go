// Package vad finds the wearer's own speech in the opening window of a
// body-worn recording, for the spoken-reason check (package reasoncheck).
// It is pure Go (no cgo, no model files) and runs far faster than real
// time on one core.
//
// It works in three steps, each explainable:
//
//   - Frames (features.go): every 16 ms, the speech-band level and its
//     adaptive noise floor, harmonicity and pitch (a tone over 400 Hz
//     notched out first), the low (62–300 Hz) and fricative (3.4–7.5 kHz)
//     levels against the telephone band, syllabic modulation, and how
//     closely the fine spectrum recurs 0.13–0.32 s away (held notes).
//   - Regions (detector.go): voiced frames joined across short gaps, cut
//     where half a second holds nothing within Opts.QuietDrop of the
//     region's loud syllables (a crowd or a bystander filling the
//     wearer's pause: a bystander region of its own), each judged one
//     source with the measure that decided it (Region.Source,
//     Region.Why): noise (unvoiced, unmodulated), the recorder's prompt
//     (an enrolled template matches, or nothing under 300 Hz), a
//     loudspeaker (cut at both ends of the telephone band), music (held
//     pitch or a held spectrum), a bystander (too quiet for a mouth at
//     25 cm, or far under the loudest wearer region), or the wearer.
//   - Speech time (speech.go): inside the wearer's regions, frame by
//     frame: the prompt, tones and background (far under the region's
//     level) are not the wearer; pauses up to Opts.BridgeGap between the
//     wearer's frames are bridged.
//
// Recorder models' prompts can be enrolled (NewPrompt, Opts.Prompts): a
// stretch matching one is its own region, judged the prompt by name.
package vad
