int upm_video_placeholder;
