#!/bin/sh
# Makes the decode fixtures: a 440 Hz sine at -6 dBFS in QuickTime/ISO BMFF
# (PCM little- and big-endian, 24-bit, float, A-law, mu-law) at 8, 44.1 and
# 48 kHz, and a WAV at 16 kHz. Kept short so the files stay small. After
# running it, regenerate the goldens: go test ./cloud/audio -run Golden -update
set -eu
cd "$(dirname "$0")"
F="ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi"
$F -i "sine=f=440:r=8000:d=0.25" -af volume=-6dB -c:a pcm_s16le -f mov pcm_s16le_8k.mov
$F -i "sine=f=440:r=44100:d=0.1" -af "volume=-6dB,pan=stereo|c0=c0|c1=c0" -c:a pcm_s16be -f mov pcm_s16be_44k1_stereo.mov
$F -i "sine=f=440:r=48000:d=0.1" -af volume=-6dB -c:a pcm_s24le -f mov pcm_s24le_48k.mov
$F -i "sine=f=440:r=48000:d=0.1" -af volume=-6dB -c:a pcm_f32le -f mov pcm_f32le_48k.mov
$F -i "sine=f=440:r=8000:d=0.25" -af volume=-6dB -c:a pcm_alaw -f mov alaw_8k.mov
$F -i "sine=f=440:r=8000:d=0.25" -af volume=-6dB -c:a pcm_mulaw -f mov mulaw_8k.mov
$F -i "sine=f=440:r=16000:d=0.25" -af volume=-6dB -c:a pcm_s16le -f wav pcm_s16le_16k.wav
