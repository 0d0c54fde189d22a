package upload

// Firmware campaigns for docks (DockLink §17), served by the upload
// endpoint with the same dock authentication:
//
//	GET {PathPrefix}/firmware            the campaigns, as FirmwareCampaigns (JSON)
//	GET {PathPrefix}/firmware/{id}/image the campaign's image (Range requests resume a download)
//
// The image is vendor-signed: a dock checks its manifest's signature with
// the vendor key it is configured with, and its size and SHA-256, before
// offering it to any recorder. The collector only distributes it.
const FirmwarePath = PathPrefix + "/firmware"

// FirmwareCampaigns lists the campaigns the collector runs.
type FirmwareCampaigns struct {
	Campaigns []FirmwareCampaign `json:"campaigns"`
}

// FirmwareCampaign is one campaign as a dock receives it: the image's
// signed manifest fields, the recorders targeted now (none: every
// recorder of the model) and where to fetch the image.
type FirmwareCampaign struct {
	ID        string   `json:"id"`
	Model     string   `json:"model"`
	Version   string   `json:"version"`
	Size      uint64   `json:"size"`
	SHA256    string   `json:"sha256"`
	Signature string   `json:"signature"`
	Serials   []string `json:"serials,omitempty"`
	Image     string   `json:"image"` // URL path of the image on the collector
}

// FirmwareImagePath is the URL path of a campaign's image.
func FirmwareImagePath(id string) string { return FirmwarePath + "/" + id + "/image" }
