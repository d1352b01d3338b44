package config

// The defaults of the settings whose zero means something other than a
// default where they are used: an empty listen address, UDP port 0 (any
// free port), no cap on a camera's viewers, no scaling of JPEG pictures, no
// session limit. Default, ApplyDefaults and the messages that tell the user
// how to get a default all read them here. The other settings' defaults are
// their components' (see the package comment).
const (
	defaultListen            = ":8080"
	defaultUDPPort           = 8189
	defaultSessionsPerMinute = 300
	defaultConnsPerAddress   = 128
	defaultLogLevel          = LogInfo
	defaultCameraMaxViewers  = 16
	defaultJPEGMaxWidth      = 1280
	// defaultMaxDecoders: each ffmpeg is 20-60 MB; sixteen fit a 2 GB
	// board beside everything else, fewer a 1 GB one (docs).
	defaultMaxDecoders = 16

	// maxJPEGFPS is the most pictures a second a JPEG decoder may make.
	maxJPEGFPS = 30
)

// Default returns the default configuration with no cameras.
func Default() *Config {
	c := &Config{WebRTC: WebRTC{UDPPort: defaultUDPPort}}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every unset (zero) field that has a default here.
//
// WebRTC.UDPPort is left alone: 0 is meaningful there ("pick a free port"),
// so its default of 8189 comes from Default and from Parse instead.
func (c *Config) ApplyDefaults() {
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = defaultListen
	}
	if c.HTTP.ConnectionsPerAddress == 0 {
		c.HTTP.ConnectionsPerAddress = defaultConnsPerAddress
	}
	if c.HTTP.SessionsPerMinute == 0 {
		c.HTTP.SessionsPerMinute = defaultSessionsPerMinute
	}
	if c.Log.Level == "" {
		c.Log.Level = defaultLogLevel
	}
	if c.JPEG.MaxDecoders == 0 {
		c.JPEG.MaxDecoders = defaultMaxDecoders
	}
	if c.JPEG.MaxWidth == 0 {
		c.JPEG.MaxWidth = defaultJPEGMaxWidth
	}
	for i := range c.Cameras {
		if c.Cameras[i].MaxViewers == 0 {
			c.Cameras[i].MaxViewers = defaultCameraMaxViewers
		}
	}
}
