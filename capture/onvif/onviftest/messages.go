package onviftest

import (
	"encoding/xml"
	"fmt"
	"html"
	"net/url"
	"strings"
)

const (
	nsDevice = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia  = "http://www.onvif.org/ver10/media/wsdl"
)

// answer returns the body of the answer to operation op at path, or
// "fault:reason" for a bad argument; ok is false for an operation the
// device does not offer there.
func (d *Device) answer(path string, op xml.Name, token, stream, protocol string) (body string, ok bool) {
	e := html.EscapeString
	o := d.opts
	switch {
	case path == "/onvif/device_service" && op.Space == nsDevice:
		switch op.Local {
		case "GetDeviceInformation":
			return "<tds:GetDeviceInformationResponse><tds:Manufacturer>" + e(o.Manufacturer) + "</tds:Manufacturer>" +
				"<tds:Model>" + e(o.Model) + "</tds:Model><tds:FirmwareVersion>" + e(o.Firmware) + "</tds:FirmwareVersion>" +
				"<tds:SerialNumber>" + e(o.Serial) + "</tds:SerialNumber><tds:HardwareId>" + e(o.Hardware) + "</tds:HardwareId>" +
				"</tds:GetDeviceInformationResponse>", true
		case "GetCapabilities":
			if o.NoCapabilities {
				return "", false
			}
			return "<tds:GetCapabilitiesResponse><tds:Capabilities>" +
				"<tt:Device><tt:XAddr>" + e(d.xaddr) + "</tt:XAddr></tt:Device>" +
				"<tt:Media><tt:XAddr>" + e(d.mediaAddr()) + "</tt:XAddr><tt:StreamingCapabilities>" +
				"<tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>" +
				"</tt:StreamingCapabilities></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>", true
		case "GetScopes":
			var b strings.Builder
			b.WriteString("<tds:GetScopesResponse>")
			for _, s := range d.scopes() {
				b.WriteString("<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>" + e(s) + "</tt:ScopeItem></tds:Scopes>")
			}
			b.WriteString("</tds:GetScopesResponse>")
			return b.String(), true
		case "GetServices":
			return "<tds:GetServicesResponse>" +
				"<tds:Service><tds:Namespace>" + nsDevice + "</tds:Namespace><tds:XAddr>" + e(d.xaddr) + "</tds:XAddr>" +
				"<tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor></tds:Version></tds:Service>" +
				"<tds:Service><tds:Namespace>" + nsMedia + "</tds:Namespace><tds:XAddr>" + e(d.mediaAddr()) + "</tds:XAddr>" +
				"<tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor></tds:Version></tds:Service>" +
				"</tds:GetServicesResponse>", true
		}
	case path == "/onvif/Media" && op.Space == nsMedia:
		switch op.Local {
		case "GetProfiles":
			var b strings.Builder
			b.WriteString("<trt:GetProfilesResponse>")
			for i, p := range o.Profiles {
				b.WriteString(profileXML(i, p))
			}
			b.WriteString("</trt:GetProfilesResponse>")
			return b.String(), true
		case "GetStreamUri":
			if strings.TrimSpace(stream) != "RTP-Unicast" || strings.TrimSpace(protocol) != "RTSP" {
				return "fault:only RTP-Unicast over RTSP is offered", true
			}
			for _, p := range o.Profiles {
				if p.Token == strings.TrimSpace(token) {
					return "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>" + e(p.URI) + "</tt:Uri>" +
						"<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>" +
						"<tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>", true
				}
			}
			return "fault:no profile " + token, true
		}
	}
	return "", false
}

// profileXML is one Profiles element as Media 1.0 devices list it.
func profileXML(i int, p Profile) string {
	e := html.EscapeString
	enc := p.Encoding
	if enc == "" {
		enc = "H264"
	}
	return fmt.Sprintf(`<trt:Profiles token="%s" fixed="true"><tt:Name>%s</tt:Name>`+
		`<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>%d</tt:UseCount>`+
		`<tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="%d" height="%d"></tt:Bounds></tt:VideoSourceConfiguration>`+
		`<tt:VideoEncoderConfiguration token="VideoEncoderToken_%d"><tt:Name>VideoEncoder_%d</tt:Name><tt:UseCount>1</tt:UseCount>`+
		`<tt:Encoding>%s</tt:Encoding><tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution>`+
		`<tt:Quality>3.000000</tt:Quality><tt:RateControl><tt:FrameRateLimit>%d</tt:FrameRateLimit>`+
		`<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl>`+
		`<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>`+
		`<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>`+
		`<tt:Port>8860</tt:Port><tt:TTL>128</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>`+
		`<tt:SessionTimeout>PT5S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>`,
		e(p.Token), e(p.Name), 1, p.Width, p.Height, i+1, i+1, e(enc), p.Width, p.Height, p.FPS)
}

// ProbeMatches is the device's answer to the Probe with message id
// relatesTo, as Hikvision firmware words it (wsadis for addressing).
func (d *Device) ProbeMatches(relatesTo string) []byte {
	e := html.EscapeString
	o := d.opts
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:soapenc="http://www.w3.org/2003/05/soap-encoding" ` +
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ` +
		`xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="` + nsDevice + `" xmlns:trt="` + nsMedia + `" ` +
		`xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" ` +
		`xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
		`<env:Header><wsadis:MessageID>urn:uuid:` + e(o.UUID) + `-reply</wsadis:MessageID>` +
		`<wsadis:RelatesTo>` + e(relatesTo) + `</wsadis:RelatesTo>` +
		`<wsadis:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To>` +
		`<wsadis:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action>` +
		`</env:Header><env:Body><wsdd:ProbeMatches><wsdd:ProbeMatch>` +
		`<wsadis:EndpointReference><wsadis:Address>urn:uuid:` + e(o.UUID) + `</wsadis:Address></wsadis:EndpointReference>` +
		`<wsdd:Types>dn:NetworkVideoTransmitter tds:Device</wsdd:Types>` +
		`<wsdd:Scopes>` + e(strings.Join(d.scopes(), " ")) + `</wsdd:Scopes>` +
		`<wsdd:XAddrs>` + e(d.xaddr) + `</wsdd:XAddrs>` +
		`<wsdd:MetadataVersion>10</wsdd:MetadataVersion></wsdd:ProbeMatch></wsdd:ProbeMatches></env:Body></env:Envelope>`)
}

// scopes are the device's scopes, as Hikvision firmware sets them.
func (d *Device) scopes() []string {
	o := d.opts
	scopes := []string{
		"onvif://www.onvif.org/type/video_encoder",
		"onvif://www.onvif.org/Profile/Streaming",
		"onvif://www.onvif.org/Profile/G",
		"onvif://www.onvif.org/location/city/hangzhou",
	}
	if o.Hardware != "" {
		scopes = append(scopes, "onvif://www.onvif.org/hardware/"+url.PathEscape(o.Hardware))
	}
	if o.Name != "" {
		scopes = append(scopes, "onvif://www.onvif.org/name/"+url.PathEscape(o.Name))
	}
	return scopes
}
